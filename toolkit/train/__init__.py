"""The training core every trainer runs on: one checkpoint format (:mod:`.checkpoint`) and one step
loop with progress, logging and checkpoint timing (:mod:`.loop`)."""
