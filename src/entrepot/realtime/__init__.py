"""Real time: wake-ups for connected users, in-process or across instances through Redis."""
