"""The report's statistics: the grouped bootstrap of a test set, each run's intervals, the paired comparisons
the paper makes, and a verdict on each of its claims."""
