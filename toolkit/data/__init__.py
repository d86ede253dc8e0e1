"""Data: procedural mannequins, datasets and media I/O."""
