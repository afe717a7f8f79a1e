/* The dev stack's MariaDB: a private datadir, mariadbd on loopback. */
#include "devstack_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <limits.h>
#include <mysql.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- MariaDB ------------------------------------------------------------ */

static int mysql_setup(const char *sock, char *err, size_t errlen)
{
    static const char *const sql[] = {
        "CREATE DATABASE IF NOT EXISTS ticketctl CHARACTER SET utf8mb4",
        "CREATE USER IF NOT EXISTS 'ticketctl'@'127.0.0.1' IDENTIFIED BY 'ticketctl'",
        "CREATE USER IF NOT EXISTS 'ticketctl'@'localhost' IDENTIFIED BY 'ticketctl'",
        "GRANT ALL PRIVILEGES ON ticketctl.* TO 'ticketctl'@'127.0.0.1'",
        "GRANT ALL PRIVILEGES ON ticketctl.* TO 'ticketctl'@'localhost'",
        NULL,
    };
    char e[256];
    MYSQL *db = mysql_init(NULL);
    if (!db)
        return tk_err(err, errlen, "mysql_init: out of memory");
    if (!mysql_real_connect(db, NULL, "root", "", NULL, 0, sock, 0)) {
        tk_err(err, errlen, "MariaDB setup: cannot connect as root via %s: %s", sock, mysql_error(db));
        mysql_close(db);
        return -1;
    }
    for (int i = 0; sql[i]; i++) {
        if (tk_db_exec(db, sql[i], e, sizeof e) != 0) {
            mysql_close(db);
            return tk_err(err, errlen, "MariaDB setup: %s: %s", sql[i], e);
        }
    }
    mysql_close(db);
    return 0;
}


static int mysql_accepts(const char *sock)
{
    MYSQL *db = mysql_init(NULL);
    if (!db)
        return 0;
    unsigned timeout = 2;
    mysql_optionsv(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    int ok = mysql_real_connect(db, NULL, "root", "", NULL, 0, sock, 0) != NULL;
    mysql_close(db);
    return ok;
}

/* dev_wait_ready() probe. */
static int mysql_ready(void *sock) { return mysql_accepts(sock); }

int dev_mysql_start(tk_dev_env *env, char *err, size_t errlen)
{
    const char *st = env->state_dir;
    char dir[PATH_MAX], data[PATH_MAX], sysdb[PATH_MAX], sock[PATH_MAX], pidf[PATH_MAX];
    char errlog[PATH_MAX], outlog[PATH_MAX], instlog[PATH_MAX], bin[PATH_MAX], inst[PATH_MAX];
    if (dev_fmt_path(dir, sizeof dir, "%s/mysql", st) || dev_fmt_path(data, sizeof data, "%s/data", dir) ||
        dev_fmt_path(sysdb, sizeof sysdb, "%s/mysql", data) || dev_fmt_path(pidf, sizeof pidf, "%s/mysqld.pid", dir) ||
        dev_fmt_path(errlog, sizeof errlog, "%s/error.log", dir) ||
        dev_fmt_path(outlog, sizeof outlog, "%s/mysqld.out", dir) ||
        dev_fmt_path(instlog, sizeof instlog, "%s/install.log", dir))
        return tk_err(err, errlen, "state dir path too long: %s", st);
    if (dev_find_bin("mariadbd", bin, sizeof bin) != 0)
        return tk_err(err, errlen, "mariadbd not found: run scripts/install-deps");
    if (dev_mkdir_p(data) != 0)
        return tk_err(err, errlen, "cannot create %s: %s", data, strerror(errno));

    /* A unix socket path must fit sun_path (108 bytes): long state dirs get
     * a per-state-dir name in /tmp instead. */
    struct sockaddr_un sun;
    if (dev_fmt_path(sock, sizeof sock, "%s/mysqld.sock", dir) != 0 || strlen(sock) >= sizeof sun.sun_path) {
        uint32_t h = 2166136261u; /* FNV-1a of the state dir */
        for (const char *c = st; *c; c++)
            h = (h ^ (unsigned char)*c) * 16777619u;
        snprintf(sock, sizeof sock, "/tmp/ticketctl-mysqld-%08x.sock", h);
    }

    /* a server left by a crashed run holds the datadir: stop it first */
    dev_stop_pid(dev_read_pidfile(pidf), dev_comp_comms[TK_DEV_MYSQL]);

    if (!dev_file_exists(sysdb)) {
        if (dev_find_bin("mariadb-install-db", inst, sizeof inst) != 0)
            return tk_err(err, errlen, "mariadb-install-db not found: run scripts/install-deps");
        char a_data[PATH_MAX + 16];
        snprintf(a_data, sizeof a_data, "--datadir=%s", data);
        char *argv[] = {inst, "--no-defaults", a_data, "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db", NULL};
        int rc = dev_run_wait(argv, instlog);
        if (rc != 0)
            return tk_err(err, errlen, "mariadb-install-db failed (exit %d); see %s", rc, instlog);
    }

    int port = dev_stable_port(env->mysql);
    if (port <= 0)
        return tk_err(err, errlen, "no free TCP port on 127.0.0.1");
    char a_data[PATH_MAX + 16], a_port[32], a_sock[PATH_MAX + 16], a_pid[PATH_MAX + 16],
        a_log[PATH_MAX + 16];
    snprintf(a_data, sizeof a_data, "--datadir=%s", data);
    snprintf(a_port, sizeof a_port, "--port=%d", port);
    snprintf(a_sock, sizeof a_sock, "--socket=%s", sock);
    snprintf(a_pid, sizeof a_pid, "--pid-file=%s", pidf);
    snprintf(a_log, sizeof a_log, "--log-error=%s", errlog);
    /* Sized for a bulk-load rehearsal box as well as the small stacks of the
     * tests (`ticketctl seed --profile large`, ~158M rows, scripts/bench-seed):
     *   buffer pool 4G: the large load's index builds and the later p99
     *     queries work in memory; InnoDB touches pool pages only as data
     *     arrive, so a small stack stays small;
     *   redo log 1G (was 256M): a load of ~20 GB through a small log is one
     *     checkpoint after another, each forcing dirty pages out; 1G costs
     *     ~0.75 GB more disk per stack. Even 1G kept the checkpoint age at
     *     ~80 % during the large seats load (page cleaner busy, ~80k rows/s);
     *     scripts/bench-seed resizes its own stack's log to 4G online
     *     (dynamic since MariaDB 10.11; ~110k rows/s) rather than costing
     *     every stack 4 GB of disk;
     *   sort buffer 64M (default 1M): fewer merge passes when the secondary
     *     indexes are built after the load (per index build, freed after);
     *   io capacity 2000/4000: background flushing at SSD rates, not the
     *     default 200 IOPS of a spinning disk. */
    /* Durable mode (`dev up --durable`, <state>/mysql/durable): every commit
     * reaches the disk (redo log fsync per commit group) and the binary log
     * is on and synced, as a production primary runs; the default writes
     * the redo log at commit but fsyncs it once a second (a MariaDB crash
     * loses nothing, an OS crash up to ~1 s) and has no binlog. The cost of
     * each is in scripts/bench-server-cpu's durable-vs-default figures. */
    char durable_mark[PATH_MAX + 16], a_binlog[PATH_MAX + 32], started_mark[PATH_MAX + 16];
    snprintf(durable_mark, sizeof durable_mark, "%s/durable", dir);
    snprintf(started_mark, sizeof started_mark, "%s/durable.running", dir);
    snprintf(a_binlog, sizeof a_binlog, "--log-bin=%s/binlog", dir);
    int durable = dev_file_exists(durable_mark);
    char *argv[] = {bin, "--no-defaults", a_data, a_port, "--bind-address=127.0.0.1", a_sock, a_pid,
                    "--user=root", a_log, "--skip-name-resolve", "--innodb-buffer-pool-size=4G",
                    durable ? "--innodb-flush-log-at-trx-commit=1" : "--innodb-flush-log-at-trx-commit=2",
                    "--innodb-log-file-size=1G",
                    "--innodb-sort-buffer-size=64M", "--innodb-io-capacity=2000",
                    "--innodb-io-capacity-max=4000",
                    "--max-connections=1000", durable ? a_binlog : "--skip-log-bin", "--local-infile=1",
                    "--max-allowed-packet=64M", durable ? "--sync-binlog=1" : "--sync-binlog=0",
                    durable ? "--binlog-format=ROW" : NULL, NULL};
    unlink(started_mark);
    long pid = dev_spawn_detached(argv, NULL, NULL, outlog, err, errlen);
    if (pid < 0)
        return -1;

    if (dev_wait_ready(pid, TK_DEV_MYSQL, mysql_ready, sock, MYSQL_START_MS, 200, "mariadbd", errlog, err, errlen) != 0)
        return -1;
    if (durable) { /* what runs, for tk_dev_durable() */
        FILE *f = fopen(started_mark, "w");
        if (f)
            fclose(f);
    }
    if (mysql_setup(sock, err, errlen) != 0) {
        dev_stop_pid(pid, dev_comp_comms[TK_DEV_MYSQL]);
        return -1;
    }
    env->pid[TK_DEV_MYSQL] = pid;
    dev_copy_str(env->mysql_socket, sizeof env->mysql_socket, sock);
    snprintf(env->mysql, sizeof env->mysql, "mysql://ticketctl:ticketctl@127.0.0.1:%d/ticketctl", port);
    return 0;
}

