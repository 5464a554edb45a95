// The two files of the ZooKeeper archive that runbook writes itself (the rest
// is Debian's, copied as it is installed): bin/zkEnv.sh and conf/log4j.properties.
//
// Why these two: Debian's zkEnv.sh is a link to /etc/zookeeper/conf/environment,
// which names fixed paths (/etc/zookeeper/conf, /var/log/zookeeper,
// /usr/share/java/zookeeper.jar), so scripts next to it cannot move. Debian's
// zkServer.sh, zkCli.sh and zkCleanup.sh themselves are relocatable: they find
// their folder and source the zkEnv.sh beside them. And Debian's
// log4j.properties takes its root logger from a system property that Debian's
// 3.8 zkServer.sh no longer passes, so it needs a default in the file.

/**
 * bin/zkEnv.sh: the environment of the scripts beside it, found from where the
 * folder is, as the upstream release's is: conf/ (zoo.cfg, java.env,
 * log4j.properties), logs/ and lib/*.jar under the unpacked folder.
 */
export const ZK_ENV_SH = `# zkEnv.sh: the environment zkServer.sh, zkCli.sh and zkCleanup.sh source.
#
# Written by runbook for this archive (Debian's zkEnv.sh is a link to
# /etc/zookeeper/conf/environment, whose fixed /etc, /var and /usr/share/java
# paths cannot move). Everything is found from this folder, as in the upstream
# release:
#   conf/           ZOOCFGDIR, unless set: zoo.cfg (ZOOCFG), log4j.properties
#   conf/java.env   optional, read first: JAVA or JAVA_HOME, SERVER_JVMFLAGS,
#                   CLIENT_JVMFLAGS, JVMFLAGS, ZOO_LOG_DIR, ZOO_LOG_FILE
#   logs/           ZOO_LOG_DIR, unless set (zkServer.sh start writes its .out here)
#   lib/*.jar       the class path, after conf/

if [ -z "$ZOOBINDIR" ]; then
  ZOOBINDIR="$(cd "$(dirname "\${BASH_SOURCE-$0}")" && pwd)"
fi
ZOOKEEPER_PREFIX="$(cd "$ZOOBINDIR/.." && pwd)"

if [ -z "$ZOOCFGDIR" ]; then
  ZOOCFGDIR="$ZOOKEEPER_PREFIX/conf"
fi
if [ -f "$ZOOCFGDIR/java.env" ]; then
  . "$ZOOCFGDIR/java.env"
fi

# zkServer.sh takes ZOOCFG as given only when it lies in ZOOCFGDIR.
ZOOCFG="$ZOOCFGDIR/$(basename "\${ZOOCFG:-zoo.cfg}")"

if [ -z "$ZOO_LOG_DIR" ]; then
  ZOO_LOG_DIR="$ZOOKEEPER_PREFIX/logs"
fi

if [ -z "$JAVA" ]; then
  if [ -n "$JAVA_HOME" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    JAVA="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    JAVA="$(command -v java)"
  else
    echo "Error: no java to run ZooKeeper: set JAVA_HOME, or JAVA in $ZOOCFGDIR/java.env, or put java on the PATH" >&2
    exit 1
  fi
fi

ZOO_CLASSPATH_FROM_ENV="$CLASSPATH"
CLASSPATH="$ZOOCFGDIR"
for zoo_jar in "$ZOOKEEPER_PREFIX"/lib/*.jar; do
  if [ -f "$zoo_jar" ]; then
    CLASSPATH="$CLASSPATH:$zoo_jar"
  fi
done
if [ -n "$ZOO_CLASSPATH_FROM_ENV" ]; then
  CLASSPATH="$CLASSPATH:$ZOO_CLASSPATH_FROM_ENV"
fi
unset zoo_jar ZOO_CLASSPATH_FROM_ENV
export CLASSPATH
`;

/**
 * conf/log4j.properties: log4j 1.2 through slf4j-log4j12 (Debian builds
 * ZooKeeper 3.8 against log4j 1.2, where upstream 3.8 ships logback). System
 * properties win over these defaults, so -Dzookeeper.root.logger=INFO,ROLLINGFILE
 * in SERVER_JVMFLAGS sends a server's log to logs/<ZOO_LOG_FILE>.
 */
export const LOG4J_PROPERTIES = `# Logging of ZooKeeper (log4j 1.2 through slf4j-log4j12, as Debian builds it).
# Written by runbook for this archive. Each zookeeper.* value below is a
# default: a -D system property of the same name wins (zkServer.sh passes
# zookeeper.log.dir and zookeeper.log.file; set zookeeper.root.logger in
# SERVER_JVMFLAGS, e.g. INFO,ROLLINGFILE, to log to a file instead of stdout).
zookeeper.root.logger=INFO, CONSOLE
zookeeper.console.threshold=INFO
zookeeper.log.dir=.
zookeeper.log.file=zookeeper.log
zookeeper.log.threshold=INFO
zookeeper.log.maxfilesize=64MB
zookeeper.log.maxbackupindex=10

log4j.rootLogger=\${zookeeper.root.logger}

log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Threshold=\${zookeeper.console.threshold}
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n

log4j.appender.ROLLINGFILE=org.apache.log4j.RollingFileAppender
log4j.appender.ROLLINGFILE.Threshold=\${zookeeper.log.threshold}
log4j.appender.ROLLINGFILE.File=\${zookeeper.log.dir}/\${zookeeper.log.file}
log4j.appender.ROLLINGFILE.MaxFileSize=\${zookeeper.log.maxfilesize}
log4j.appender.ROLLINGFILE.MaxBackupIndex=\${zookeeper.log.maxbackupindex}
log4j.appender.ROLLINGFILE.layout=org.apache.log4j.PatternLayout
log4j.appender.ROLLINGFILE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
`;
