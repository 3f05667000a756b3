"""Pure, seeded logic of the farm: catalogue, chaos stream, ids, parameters and errors."""
