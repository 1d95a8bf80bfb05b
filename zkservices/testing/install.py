"""Finding what runs a ZooKeeper server: Java and the server's jars.

Lookup, in order:

- jars: the ``classpath`` argument, else the ``version`` argument (the jars
  of that version under a directory of downloaded servers,
  :func:`version_classpath`: ``.zookeeper/<version>/lib``, where
  ``scripts/bootstrap --test`` puts ZooKeeper 3.9 from Maven Central), else
  ``$ZOOKEEPER_CLASSPATH`` (a ``:``-separated classpath), else
  ``$ZOOKEEPER_VERSION`` (a version as the argument, under
  ``$ZOOKEEPER_VERSIONS_DIR``, default ``.zookeeper``), else ``$ZOOKEEPER_HOME`` (its ``*.jar`` and
  ``lib/*.jar``), else the locations Debian's ``zookeeper`` package uses
  (``/usr/share/java/zookeeper.jar`` plus the log4j binding beside it), else
  ``/usr/share/zookeeper``;
- Java: ``$JAVA_HOME/bin/java``, else ``java`` on ``$PATH``;
- for TLS servers: the Netty jars (:func:`netty_classpath`; a classpath that
  already holds them, else Debian's in ``/usr/share/java``), ``openssl`` on
  ``$PATH`` and ``keytool`` beside Java (:func:`find_openssl`, :func:`find_keytool`).

Every failure raises :class:`~zkservices.testing.ServerError` saying what to install.
"""

from __future__ import annotations

import glob
import os
import re
import shutil

from ..errors import ServerError

__all__ = [
    "INSTALL_HINT",
    "NETTY_JARS",
    "find_classpath",
    "find_java",
    "find_keytool",
    "find_openssl",
    "netty_classpath",
    "version_classpath",
]

#: What to do when no server install is found; part of every lookup error.
INSTALL_HINT = (
    "install Debian's ZooKeeper server with 'apt-get install zookeeper' "
    "(it brings Java), or set ZOOKEEPER_CLASSPATH / ZOOKEEPER_HOME"
)

DEBIAN_JAVA_DIR = "/usr/share/java"
#: Where ``scripts/bootstrap --test`` puts downloaded servers (relative: to the current directory).
VERSIONS_DIR = ".zookeeper"
SHARE_DIR = "/usr/share/zookeeper"


def find_java() -> str:
    """Return the path of the ``java`` executable.

    Raises :class:`ServerError` (with :data:`INSTALL_HINT`) when there is none.
    """
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = os.path.join(java_home, "bin", "java")
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("java")
    if found:
        return found
    raise ServerError(f"Java not found (no $JAVA_HOME/bin/java, no java on PATH): {INSTALL_HINT}")


def _jars_in(directory: str) -> list[str]:
    return sorted(glob.glob(os.path.join(directory, "*.jar")))


def find_classpath(
    classpath: str | None = None, *, version: str | None = None, versions_dir: str = VERSIONS_DIR
) -> str:
    """Return a classpath that runs a ZooKeeper server with log4j (3.8) or logback (3.9) logging.

    ``version`` (e.g. ``"3.9"``) picks a downloaded server under
    ``versions_dir`` (:func:`version_classpath`); it cannot go with
    ``classpath`` (:class:`ValueError`).  Without either, the environment
    decides, in the order of the module's docstring.  ``classpath`` (a ``:``-separated list, entries may be globs such as
    ``.zookeeper/3.9.5/lib/*``), when given, wins over the environment.
    Relative entries come back absolute: the server runs in its own
    directory.  Raises :class:`ServerError` naming the missing
    entries, or saying what to install when no server is found at all.
    """
    if version is not None:
        if classpath is not None:
            raise ValueError("find_classpath: pass a classpath or a version, not both")
        return version_classpath(version, versions_dir)
    explicit = classpath or os.environ.get("ZOOKEEPER_CLASSPATH")
    if not explicit and os.environ.get("ZOOKEEPER_VERSION"):
        return version_classpath(
            os.environ["ZOOKEEPER_VERSION"], os.environ.get("ZOOKEEPER_VERSIONS_DIR") or versions_dir)
    if explicit:
        entries = [e for e in explicit.split(os.pathsep) if e]
        missing = [e for e in entries if not glob.glob(e)]
        if missing:
            raise ServerError(f"ZooKeeper classpath entries do not exist: {', '.join(missing)}")
        return os.pathsep.join(os.path.abspath(e) for e in entries)
    home = os.environ.get("ZOOKEEPER_HOME")
    if home:
        home = os.path.abspath(home)
        jars = _jars_in(home) + _jars_in(os.path.join(home, "lib"))
        if not any("zookeeper" in os.path.basename(j) for j in jars):
            raise ServerError(f"ZOOKEEPER_HOME={home} holds no zookeeper*.jar: {INSTALL_HINT}")
        return os.pathsep.join(jars)
    debian = os.path.join(DEBIAN_JAVA_DIR, "zookeeper.jar")
    if os.path.exists(debian):
        # zookeeper.jar's manifest names its own dependencies; slf4j needs a
        # binding or the server logs nothing at all.
        extra = [
            os.path.join(DEBIAN_JAVA_DIR, name)
            for name in ("slf4j-log4j12.jar", "log4j-1.2.jar")
            if os.path.exists(os.path.join(DEBIAN_JAVA_DIR, name))
        ]
        return os.pathsep.join([debian, *extra])
    jars = _jars_in(SHARE_DIR) + _jars_in(os.path.join(SHARE_DIR, "lib"))
    if any("zookeeper" in os.path.basename(j) for j in jars):
        return os.pathsep.join(jars)
    raise ServerError(f"ZooKeeper jars not found (looked in {DEBIAN_JAVA_DIR} and {SHARE_DIR}): {INSTALL_HINT}")


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in name.split("."))


def version_classpath(version: str, versions_dir: str = VERSIONS_DIR) -> str:
    """The classpath (``<dir>/lib/*``, absolute) of a downloaded ZooKeeper ``version`` under ``versions_dir``.

    ``version`` is exact (``"3.9.5"``) or a prefix of dotted parts
    (``"3.9"``: the newest ``3.9.N`` there).  Each version is a directory
    ``<versions_dir>/<version>/lib`` of its jars, as ``scripts/bootstrap
    --test`` makes with Maven (``scripts/zookeeper/pom.xml`` pins the
    version).  Raises :class:`ServerError` saying how to get it when none is
    there.
    """
    root = os.path.abspath(versions_dir)
    names = os.listdir(root) if os.path.isdir(root) else []
    candidates = [
        name
        for name in names
        if (name == version or name.startswith(version + "."))
        and glob.glob(os.path.join(root, name, "lib", "zookeeper-*.jar"))
    ]
    if not candidates:
        raise ServerError(
            f"no ZooKeeper {version} in {root} (a directory <version>/lib of its jars): 'scripts/bootstrap --test' "
            "fetches the pinned 3.9 with Maven, or give the jars' classpath instead"
        )
    newest = max(candidates, key=_version_key)
    return os.path.join(root, newest, "lib", "*")


#: The Netty jars ZooKeeper's ``NettyServerCnxnFactory`` (TLS) needs, by their Debian names.
NETTY_JARS = (
    "netty-buffer",
    "netty-codec",
    "netty-common",
    "netty-handler",
    "netty-resolver",
    "netty-transport",
    "netty-transport-native-unix-common",
)


def _has_jar(entries: list[str], name: str) -> bool:
    pattern = re.compile(rf"^{re.escape(name)}(-\d[^/]*)?\.jar$")
    return any(pattern.match(os.path.basename(e)) for e in entries)


def netty_classpath(classpath: str) -> str:
    """Return ``classpath`` with every jar of :data:`NETTY_JARS` it lacks added from Debian's ``/usr/share/java``.

    A classpath holding ``netty-all`` (or all of them) comes back as it is.
    Raises :class:`ServerError` saying what to install when a jar is found
    nowhere.
    """
    entries = [path for entry in classpath.split(os.pathsep) if entry for path in (glob.glob(entry) or [entry])]
    if _has_jar(entries, "netty-all"):
        return classpath
    extra: list[str] = []
    missing: list[str] = []
    for name in NETTY_JARS:
        if _has_jar(entries, name):
            continue
        candidate = os.path.join(DEBIAN_JAVA_DIR, f"{name}.jar")
        (extra if os.path.exists(candidate) else missing).append(candidate)
    if missing:
        raise ServerError(
            f"Netty jars for a TLS ZooKeeper server not found ({', '.join(missing)}): "
            "install them with 'apt-get install libnetty-java' (Debian's zookeeper package brings it), "
            "or put Netty on ZOOKEEPER_CLASSPATH"
        )
    return os.pathsep.join([classpath, *extra])


def find_openssl() -> str:
    """Return the path of the ``openssl`` command (it makes test certificates).

    Raises :class:`ServerError` saying what to install when there is none.
    """
    found = shutil.which("openssl")
    if found:
        return found
    raise ServerError(
        "openssl not found on PATH (it makes the test certificates): install it with 'apt-get install openssl'"
    )


def find_keytool(java: str | None = None) -> str:
    """Return the path of Java's ``keytool`` (it makes the server's PKCS12 truststore).

    Looked for beside ``java`` (default: :func:`find_java`), in
    ``$JAVA_HOME/bin``, then on ``$PATH``.  Raises :class:`ServerError`
    saying what to install when there is none.
    """
    candidates = []
    if java:
        candidates.append(os.path.join(os.path.dirname(os.path.realpath(java)), "keytool"))
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidates.append(os.path.join(java_home, "bin", "keytool"))
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("keytool")
    if found:
        return found
    raise ServerError(
        "keytool not found (beside java, in $JAVA_HOME/bin or on PATH; it makes the TLS server's truststore): "
        "install a Java runtime with 'apt-get install default-jre-headless'"
    )
