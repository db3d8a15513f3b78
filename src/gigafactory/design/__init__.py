"""Factory designer: power envelope -> racks, fabric, power chain, cooling, PUE/WUE, floor, BOM and capex."""
