"""Tests of zkservices._tree, one file per module (server tests use the zk fixtures)."""
