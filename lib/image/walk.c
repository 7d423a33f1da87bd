/*
 * DESIGN: the layer walker turns untrusted tar streams into the final file
 * view without writing a byte to disk: an in-memory tree (children kept
 * sorted) that each layer's scanned entries (scan.c) update in order, OCI
 * whiteouts included (.wh.X removes X from lower layers, .wh..wh..opq
 * empties a directory of lower layers' entries; both leave the same
 * layer's entries alone). Anything an extractor could be fooled by is
 * refused with the path named (here or in scan.c): ".." components, entries reached
 * through a symlink, relative symlinks climbing out of the root, hardlinks
 * to nothing, device nodes, duplicates within a layer, absurd sizes and
 * counts. Absolute paths are neutralised (made relative), FIFOs and
 * sockets are dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "walk-int.h"

enum { N_DIR, N_REG, N_LNK };

struct fs_node {
	char *name;
	int type;
	unsigned layer;
	bool is_explicit;
	bool hashed;
	uint64_t size;
	uint8_t hash[32];
	char *target;
	struct fs_node **kids;
	size_t nk, capk;
};

struct ccm_image_fs {
	struct fs_node root;
	char **rw;
	size_t n_rw;
	uint64_t nodes;
};

static void walk_node_free(struct fs_node *n)
{
	for (size_t i = 0; i < n->nk; i++) {
		walk_node_free(n->kids[i]);
		free(n->kids[i]);
	}
	free(n->kids);
	free(n->name);
	free(n->target);
	n->kids = NULL;
	n->nk = n->capk = 0;
	n->name = n->target = NULL;
}

ccm_code ccm_image_fs_new(struct ccm_image_fs **out, const char *const *rw, size_t n_rw,
                          struct ccm_error *err)
{
	struct ccm_image_fs *fs = calloc(1, sizeof(*fs));

	if (fs == NULL || (n_rw && (fs->rw = calloc(n_rw, sizeof(char *))) == NULL))
		goto nomem;
	fs->root.type = N_DIR;
	for (size_t i = 0; i < n_rw; i++) {
		fs->rw[i] = strdup(rw[i]);
		if (fs->rw[i] == NULL)
			goto nomem;
		fs->n_rw++;
	}
	*out = fs;
	return CCM_OK;
nomem:
	ccm_image_fs_free(fs);
	return ccm_fail(err, CCM_E_NOMEM, "out of memory");
}

void ccm_image_fs_free(struct ccm_image_fs *fs)
{
	if (fs == NULL)
		return;
	walk_node_free(&fs->root);
	for (size_t i = 0; i < fs->n_rw; i++)
		free(fs->rw[i]);
	free(fs->rw);
	free(fs);
}

/* Split and check a tar path; "." components dropped, leading "/" too. */
ccm_code walk_split(const char *raw, struct walk_path *p, struct ccm_error *err)
{
	size_t len = strlen(raw), used = 0;
	char *s = p->store;

	p->n = 0;
	if (len > MAX_PATH)
		return ccm_fail(err, CCM_E_LIMIT, "entry path longer than %u bytes", MAX_PATH);
	memcpy(s, raw, len + 1);
	for (char *tok = s, *next; tok != NULL; tok = next) {
		next = strchr(tok, '/');
		if (next != NULL)
			*next++ = '\0';
		if (*tok == '\0' || strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0)
			return ccm_fail(err, CCM_E_INPUT,
			                "entry '%.200s': '..' would escape the root", raw);
		if (strlen(tok) > MAX_NAME || p->n == MAX_DEPTH)
			return ccm_fail(err, CCM_E_LIMIT, "entry '%.200s': name or depth too large",
			                raw);
		p->comp[p->n++] = tok;
	}
	p->text[0] = '\0';
	for (size_t i = 0; i < p->n; i++)
		used += (size_t)snprintf(p->text + used, sizeof(p->text) - used, "/%s", p->comp[i]);
	if (p->n == 0)
		memcpy(p->text, "/", 2);
	return CCM_OK;
}

/* Binary search; *at gets the insertion point when absent. */
static struct fs_node *walk_find(const struct fs_node *dir, const char *name, size_t *at)
{
	size_t lo = 0, hi = dir->nk;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(dir->kids[mid]->name, name);
		if (c == 0) {
			if (at != NULL)
				*at = mid;
			return dir->kids[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at != NULL)
		*at = lo;
	return NULL;
}

static struct fs_node *walk_insert(struct ccm_image_fs *fs, struct fs_node *dir, const char *name,
                                   unsigned layer, struct ccm_error *err)
{
	struct fs_node *n;
	size_t at;

	if (fs->nodes >= MAX_NODES) {
		ccm_fail(err, CCM_E_LIMIT, "image has more than %u entries", MAX_NODES);
		return NULL;
	}
	walk_find(dir, name, &at);
	if (dir->nk == dir->capk) {
		size_t cap = dir->capk ? 2 * dir->capk : 4;
		struct fs_node **k = realloc(dir->kids, cap * sizeof(*k));
		if (k == NULL)
			goto nomem;
		dir->kids = k;
		dir->capk = cap;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL || (n->name = strdup(name)) == NULL) {
		free(n);
		goto nomem;
	}
	n->type = N_DIR;
	n->layer = layer;
	memmove(dir->kids + at + 1, dir->kids + at, (dir->nk - at) * sizeof(*dir->kids));
	dir->kids[at] = n;
	dir->nk++;
	fs->nodes++;
	return n;
nomem:
	ccm_fail(err, CCM_E_NOMEM, "out of memory");
	return NULL;
}

static void walk_remove(struct ccm_image_fs *fs, struct fs_node *dir, const char *name)
{
	size_t at;
	struct fs_node *n = walk_find(dir, name, &at);

	if (n == NULL)
		return;
	walk_node_free(n);
	free(n);
	memmove(dir->kids + at, dir->kids + at + 1, (dir->nk - at - 1) * sizeof(*dir->kids));
	dir->nk--;
	fs->nodes--;
}

/* Opaque: drop lower layers' entries below dir, keep this layer's. */
static void walk_opaque(struct ccm_image_fs *fs, struct fs_node *dir, unsigned layer)
{
	for (size_t i = dir->nk; i-- > 0;) {
		struct fs_node *k = dir->kids[i];
		if (k->layer < layer)
			walk_remove(fs, dir, k->name);
		else if (k->type == N_DIR)
			walk_opaque(fs, k, layer);
	}
}

/* Find or make the parent directory of p (components 0..n-2). */
static struct fs_node *walk_parent(struct ccm_image_fs *fs, const struct walk_path *p,
                                   unsigned layer, struct ccm_error *err)
{
	struct fs_node *d = &fs->root;

	for (size_t i = 0; i + 1 < p->n; i++) {
		struct fs_node *k = walk_find(d, p->comp[i], NULL);
		if (k == NULL)
			k = walk_insert(fs, d, p->comp[i], layer, err);
		if (k == NULL)
			return NULL;
		/* This layer has an entry below k: an opaque marker of this
		 * layer further up must keep k (walk_opaque). is_explicit
		 * stays "named by an entry of k->layer". */
		if (k->layer != layer) {
			k->layer = layer;
			k->is_explicit = false;
		}
		if (k->type == N_LNK) {
			ccm_fail(err, CCM_E_INPUT, "entry '%.200s' goes through symlink '%s'",
			         p->text, p->comp[i]);
			return NULL;
		}
		if (k->type != N_DIR) {
			ccm_fail(err, CCM_E_INPUT, "entry '%.200s': '%s' is not a directory",
			         p->text, p->comp[i]);
			return NULL;
		}
		d = k;
	}
	return d;
}

bool walk_is_rw(const struct ccm_image_fs *fs, const char *path)
{
	for (size_t i = 0; i < fs->n_rw; i++) {
		size_t n = strlen(fs->rw[i]);
		if (strncmp(path, fs->rw[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

static ccm_code walk_whiteout(struct ccm_image_fs *fs, const struct walk_path *p, unsigned layer,
                              struct ccm_error *err)
{
	const char *base = p->comp[p->n - 1];
	struct fs_node *dir = walk_parent(fs, p, layer, err), *victim;

	if (dir == NULL)
		return err->code;
	if (strcmp(base, ".wh..wh..opq") == 0) {
		walk_opaque(fs, dir, layer);
		return CCM_OK;
	}
	if (strncmp(base, ".wh..wh.", 8) == 0)
		return CCM_OK; /* aufs metadata (.wh..wh.plnk, ...): ignored */
	victim = walk_find(dir, base + 4, NULL);
	if (victim != NULL && victim->layer == layer && victim->is_explicit)
		return ccm_fail(err, CCM_E_INPUT,
		                "whiteout '%.200s' removes an entry of its own layer", p->text);
	if (victim != NULL)
		walk_remove(fs, dir, base + 4);
	return CCM_OK;
}

/* A relative symlink must not climb above the root from where it sits. */
ccm_code walk_check_symlink(const struct walk_path *p, const char *target, struct ccm_error *err)
{
	long depth = (long)p->n - 1;
	const char *t = target;

	if (strlen(target) > MAX_PATH || target[0] == '\0')
		return ccm_fail(err, CCM_E_INPUT, "symlink '%.200s': empty or oversized target",
		                p->text);
	if (target[0] == '/')
		return CCM_OK; /* resolved against the container root */
	while (*t) {
		size_t n = strcspn(t, "/");
		if (n == 2 && t[0] == '.' && t[1] == '.')
			depth--;
		else if (n > 0 && !(n == 1 && t[0] == '.'))
			depth++;
		if (depth < 0)
			return ccm_fail(err, CCM_E_INPUT,
			                "symlink '%.200s' -> '%.200s' escapes the image root",
			                p->text, target);
		t += n;
		while (*t == '/')
			t++;
	}
	return CCM_OK;
}

static struct fs_node *walk_lookup(const struct ccm_image_fs *fs, const struct walk_path *p)
{
	const struct fs_node *d = &fs->root;

	for (size_t i = 0; i < p->n && d != NULL; i++) {
		if (d->type != N_DIR)
			return NULL;
		d = walk_find(d, p->comp[i], NULL);
	}
	return (struct fs_node *)d;
}

static ccm_code walk_hardlink(struct ccm_image_fs *fs, struct fs_node *n, const char *raw,
                              const struct walk_path *p, struct ccm_error *err)
{
	struct walk_path *tp = malloc(sizeof(*tp));
	const struct fs_node *t;
	ccm_code rc;

	if (tp == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	rc = walk_split(raw, tp, err);
	t = rc == CCM_OK ? walk_lookup(fs, tp) : NULL;
	/* A hardlinked symlink (Docker's tar writer links any inode with
	 * several names) is the same symlink, checked from where it sits. */
	if (rc == CCM_OK && t != NULL && t->type == N_LNK) {
		rc = walk_check_symlink(p, t->target, err);
		n->type = N_LNK;
		n->target = rc == CCM_OK ? strdup(t->target) : NULL;
		if (rc == CCM_OK && n->target == NULL)
			rc = ccm_fail(err, CCM_E_NOMEM, "out of memory");
		free(tp);
		return rc;
	}
	if (rc == CCM_OK && (t == NULL || t->type != N_REG))
		rc = ccm_fail(err, CCM_E_INPUT,
		              "hardlink '%.200s' -> '%.200s': target is not a file seen before",
		              p->text, raw);
	if (rc == CCM_OK) {
		n->type = N_REG;
		n->size = t->size;
		n->hashed = t->hashed;
		memcpy(n->hash, t->hash, 32);
	}
	free(tp);
	return rc;
}

/* Make (or reuse) the node for p, refusing duplicates in one layer. */
static struct fs_node *walk_slot(struct ccm_image_fs *fs, const struct walk_path *p, unsigned layer,
                                 bool is_dir, struct ccm_error *err)
{
	struct fs_node *dir = walk_parent(fs, p, layer, err), *n;

	if (dir == NULL)
		return NULL;
	n = walk_find(dir, p->comp[p->n - 1], NULL);
	if (n != NULL && n->layer == layer && n->is_explicit && !(is_dir && n->type == N_DIR)) {
		ccm_fail(err, CCM_E_INPUT, "duplicate entry '%.200s' in one layer", p->text);
		return NULL;
	}
	if (n != NULL && !(is_dir && n->type == N_DIR)) {
		walk_remove(fs, dir, p->comp[p->n - 1]);
		n = NULL;
	}
	if (n == NULL)
		n = walk_insert(fs, dir, p->comp[p->n - 1], layer, err);
	if (n != NULL) {
		n->layer = layer;
		n->is_explicit = true;
	}
	return n;
}

/* One scanned entry onto the view: the checks that need the layers below
 * (through a symlink, duplicates, whiteouts, hardlink targets). */
static ccm_code walk_apply_op(struct ccm_image_fs *fs, const struct walk_op *op,
                              struct walk_path *p, unsigned layer, struct ccm_error *err)
{
	struct fs_node *n;

	if (walk_split(op->path, p, err) != CCM_OK)
		return err->code;
	if (op->kind == OP_WHITEOUT)
		return walk_whiteout(fs, p, layer, err);
	n = walk_slot(fs, p, layer, op->kind == OP_DIR, err);
	if (n == NULL)
		return err->code;
	switch (op->kind) {
	case OP_HARD:
		return walk_hardlink(fs, n, op->link, p, err);
	case OP_LNK:
		n->type = N_LNK;
		n->target = strdup(op->link);
		return n->target ? CCM_OK : ccm_fail(err, CCM_E_NOMEM, "out of memory");
	case OP_REG:
		n->type = N_REG;
		n->size = op->size;
		n->hashed = op->hashed;
		memcpy(n->hash, op->hash, 32);
		return CCM_OK;
	default:
		return CCM_OK;
	}
}

ccm_code ccm_image_fs_apply(struct ccm_image_fs *fs, const struct ccm_image_scan *s, unsigned layer,
                            struct ccm_error *err)
{
	struct walk_path *p = malloc(sizeof(*p));
	ccm_code rc = p == NULL ? ccm_fail(err, CCM_E_NOMEM, "out of memory") : CCM_OK;

	for (size_t i = 0; rc == CCM_OK && i < s->n; i++)
		rc = walk_apply_op(fs, &s->ops[i], p, layer, err);
	free(p);
	return rc;
}

struct walk_visitor {
	ccm_image_fs_visit file;      /* regular files, or NULL */
	ccm_image_fs_link_visit link; /* symlinks, or NULL */
	void *ctx;
};

static ccm_code walk_visit(const struct ccm_image_fs *fs, const struct fs_node *d, char *path,
                           size_t len, const struct walk_visitor *v, struct ccm_error *err)
{
	for (size_t i = 0; i < d->nk; i++) {
		const struct fs_node *k = d->kids[i];
		size_t kl = strlen(k->name);
		if (len + 1 + kl > MAX_PATH)
			return ccm_fail(err, CCM_E_LIMIT, "path too long");
		path[len] = '/';
		memcpy(path + len + 1, k->name, kl + 1);
		if (k->type == N_REG && v->file != NULL &&
		    v->file(v->ctx, path, k->hash, k->size, k->hashed && !walk_is_rw(fs, path),
		            err))
			return err->code;
		if (k->type == N_LNK && v->link != NULL &&
		    v->link(v->ctx, path, k->target, walk_is_rw(fs, path), err))
			return err->code;
		if (k->type == N_DIR && walk_visit(fs, k, path, len + 1 + kl, v, err) != CCM_OK)
			return err->code;
	}
	return CCM_OK;
}

static ccm_code walk_run(const struct ccm_image_fs *fs, const struct walk_visitor *v,
                         struct ccm_error *err)
{
	char *path = malloc(MAX_PATH + 300);
	ccm_code rc;

	if (path == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	path[0] = '\0';
	rc = walk_visit(fs, &fs->root, path, 0, v, err);
	free(path);
	return rc;
}

ccm_code ccm_image_fs_walk(const struct ccm_image_fs *fs, ccm_image_fs_visit visit, void *ctx,
                           struct ccm_error *err)
{
	const struct walk_visitor v = {.file = visit, .ctx = ctx};

	return walk_run(fs, &v, err);
}

ccm_code ccm_image_fs_walk_links(const struct ccm_image_fs *fs, ccm_image_fs_link_visit visit,
                                 void *ctx, struct ccm_error *err)
{
	const struct walk_visitor v = {.link = visit, .ctx = ctx};

	return walk_run(fs, &v, err);
}

/* The node at path, or NULL; *depth its number of components (0: the
 * root). */
static const struct fs_node *walk_path_node(const struct ccm_image_fs *fs, const char *path,
                                            size_t *depth)
{
	struct walk_path *p = malloc(sizeof(*p));
	const struct fs_node *n = NULL;

	*depth = 0;
	if (p != NULL && walk_split(path, p, NULL) == CCM_OK) {
		n = walk_lookup(fs, p);
		*depth = p->n;
	}
	free(p);
	return n;
}

bool ccm_image_fs_exists(const struct ccm_image_fs *fs, const char *path)
{
	size_t depth;

	return walk_path_node(fs, path, &depth) != NULL && depth > 0;
}

bool ccm_image_fs_is_dir(const struct ccm_image_fs *fs, const char *path)
{
	size_t depth;
	const struct fs_node *n = walk_path_node(fs, path, &depth);

	return n != NULL && n->type == N_DIR;
}
