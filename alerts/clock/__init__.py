"""The clock: the scheduler role, leadership, notices, recurrences, operations, plan imports."""
