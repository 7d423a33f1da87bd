/*
 * DESIGN: group commit. With synchronous=FULL every COMMIT waits for its
 * own fsync of the WAL, so a daemon with one store thread can never
 * commit faster than the disk syncs (a few ms each on virtual disks:
 * ~250 certificates/s however fast the CPU). Here the connection commits
 * with synchronous=NORMAL (the WAL frames reach the page cache, not the
 * disk) and a second thread makes them durable with one fdatasync of the
 * WAL file that covers every transaction committed before it started.
 * The caller acknowledges a write only after such a sync, so the
 * guarantee is unchanged (an acknowledged write survives kill -9 and
 * power loss) while one disk sync serves all the requests that committed
 * meanwhile. synchronous=NORMAL alone would be durable against process
 * crashes only: after a power loss the last certificates issued could be
 * gone from the store and the audit chain while their holders use them,
 * and nothing could revoke them. This is the same WAL the connection
 * writes (opened by name, re-opened if SQLite ever replaced the file),
 * and fdatasync covers the file, not the descriptor.
 *
 * Checkpoints move off the committing thread too: the connection's
 * automatic checkpoint (two fsyncs inside a COMMIT every 1000 frames) is
 * replaced by a WAL hook that counts frames, and the sync thread runs a
 * PASSIVE checkpoint on its own connection when the WAL has grown, which
 * never blocks the writer (see store_sync_hook for the bound on the WAL).
 * Each connection is used by one thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store-int.h"

/* Checkpoint once the WAL holds this many frames (pages, 4 KiB): rare
 * enough that the writer's WAL restart (one header sync) stays rare. */
#define STORE_SYNC_CKPT_FRAMES 4000

struct store_sync {
	struct store *s;
	char *wal_path;
	int fd;
	dev_t dev;
	ino_t ino;
	sqlite3 *db; /* checkpoints, on the sync thread */
};

/*
 * Main connection's WAL hook: remember the size for the sync thread. Under
 * sustained writes the thread's checkpoint always lags the writer by what
 * was committed while it ran, so the WAL would never restart and would
 * grow without bound: at twice the threshold the writer checkpoints
 * itself (PASSIVE again, but with no concurrent writer it completes, and
 * the frames left to copy are few since the thread keeps up), and its
 * next write restarts the WAL. That costs the loop two syncs per few
 * thousand frames instead of two per commit.
 */
static int store_sync_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *s = arg;

	atomic_store(&s->wal_frames, frames);
	if (frames >= 2 * STORE_SYNC_CKPT_FRAMES)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

/* (Re)open the WAL file if it is not the one on disk under its name. */
static ccm_code store_sync_fd(struct store_sync *y, struct ccm_error *err)
{
	struct stat st;
	int fd;

	if (stat(y->wal_path, &st) != 0)
		return ccm_fail(err, CCM_E_IO, "store: %s: %s", y->wal_path, strerror(errno));
	if (y->fd >= 0 && st.st_dev == y->dev && st.st_ino == y->ino)
		return CCM_OK;
	fd = open(y->wal_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ccm_fail(err, CCM_E_IO, "store: %s: %s", y->wal_path, strerror(errno));
	if (y->fd >= 0)
		close(y->fd);
	y->fd = fd;
	y->dev = st.st_dev;
	y->ino = st.st_ino;
	return CCM_OK;
}

ccm_code store_sync_open(struct store *s, struct store_sync **out, struct ccm_error *err)
{
	const char *db = sqlite3_db_filename(s->db, "main");
	const char *wal = db ? sqlite3_filename_wal(db) : NULL;
	struct store_sync *y = calloc(1, sizeof(*y));
	char *msg = NULL;

	*out = NULL;
	if (y == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "store: out of memory");
	y->s = s;
	y->fd = -1;
	if (sqlite3_threadsafe() == 0 || db == NULL || db[0] == '\0' || wal == NULL) {
		free(y);
		return ccm_fail(err, CCM_E_UNSUPPORTED,
		                "store: group commit needs a file database"
		                " and a thread-safe SQLite");
	}
	y->wal_path = strdup(wal);
	if (y->wal_path == NULL || store_sync_fd(y, err) != CCM_OK)
		goto fail;
	if (sqlite3_open_v2(db, &y->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	            SQLITE_OK ||
	    sqlite3_exec(y->db, "PRAGMA synchronous=NORMAL", NULL, NULL, &msg) != SQLITE_OK) {
		ccm_fail(err, CCM_E_IO, "store: checkpoint connection: %s",
		         msg ? msg : sqlite3_errmsg(y->db));
		sqlite3_free(msg);
		goto fail;
	}
	/* Only now relax the committing connection: from here on its
	 * commits are made durable by store_sync_run. */
	if (sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, &msg) != SQLITE_OK) {
		ccm_fail(err, CCM_E_IO, "store: synchronous: %s", msg ? msg : "failed");
		sqlite3_free(msg);
		goto fail;
	}
	sqlite3_wal_hook(s->db, store_sync_hook, s);
	*out = y;
	return CCM_OK;
fail:
	store_sync_close(y);
	return err ? err->code : CCM_E_IO;
}

ccm_code store_sync_run(struct store_sync *y, struct ccm_error *err)
{
	if (store_sync_fd(y, err) != CCM_OK)
		return CCM_E_IO;
	if (fdatasync(y->fd) != 0)
		return ccm_fail(err, CCM_E_IO, "store: fdatasync %s: %s", y->wal_path,
		                strerror(errno));
	return CCM_OK;
}

void store_sync_checkpoint(struct store_sync *y)
{
	int nlog = 0, nckpt = 0;

	if (atomic_load(&y->s->wal_frames) < STORE_SYNC_CKPT_FRAMES)
		return;
	/* PASSIVE: copies what no reader needs, never waits, never blocks
	 * the writer; what it cannot copy now is copied next time. */
	if (sqlite3_wal_checkpoint_v2(y->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt) ==
	            SQLITE_OK &&
	    nlog == nckpt)
		atomic_store(&y->s->wal_frames, 0);
}

void store_sync_close(struct store_sync *y)
{
	if (y == NULL)
		return;
	if (y->s != NULL && y->s->db != NULL) {
		/* Back to the plain mode: FULL commits, automatic checkpoints. */
		sqlite3_exec(y->s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
		sqlite3_wal_autocheckpoint(y->s->db, 1000);
	}
	if (y->fd >= 0) {
		fdatasync(y->fd);
		close(y->fd);
	}
	sqlite3_close(y->db);
	free(y->wal_path);
	free(y);
}
