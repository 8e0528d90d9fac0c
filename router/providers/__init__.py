"""Provider clients: one per SDK, errors translated at this boundary."""
