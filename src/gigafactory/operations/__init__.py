"""Operations: failures, blast radius, repairs, spares and crews, availability over months (issue 20)."""
