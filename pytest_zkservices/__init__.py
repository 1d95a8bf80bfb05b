"""The pytest plugin of zkservices: real ZooKeeper servers as fixtures.

- :mod:`pytest_zkservices.plugin`: options, the ``zookeeper`` marker and the
  default fixtures (``zk``, ``zk_client``, ``zk_server``...); loaded by the
  ``pytest11`` entry point in every pytest run, so it imports nothing but pytest;
- :mod:`pytest_zkservices.factories`: functions that make more such fixtures
  (another server, another chroot, a client on them);
- :mod:`pytest_zkservices.config`: the options, each a command-line flag and an ini key.

The servers themselves are :mod:`zkservices.testing`'s.
"""
