"""spam-platform drift detection: inference log vs. training baseline."""
