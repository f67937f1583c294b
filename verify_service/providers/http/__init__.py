"""What every HTTP provider adapter shares: the base class, status classes, JSON helpers."""
