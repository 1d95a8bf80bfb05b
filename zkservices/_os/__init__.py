"""Operating-system helpers that know nothing of ZooKeeper."""
