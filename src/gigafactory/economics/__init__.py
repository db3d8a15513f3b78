"""Economics: time value of money, levelised cost and cash-flow metrics of an AI factory."""
