/*
 * DESIGN: who is calling. Passwords are Argon2id (libargon2) with a random
 * salt; the cost is configurable (tests run cheap, production dear).
 * Bearer tokens are 256 random bits shown once; the store keeps only their
 * SHA-256; the row found by that hash is compared again in constant time
 * (CRYPTO_memcmp), so no timing of ours depends on how much of it matched.
 * Session tokens start "ccms_", API tokens "ccmt_", so a leaked token in a
 * log is recognisable. Failed logins are counted per user and per client
 * address in a fixed-size table (no allocation an attacker can grow);
 * over the limit, a login is refused with 429 before the password is
 * even checked, until the window passes.
 */
#include <argon2.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ccmd.h"
#include "util/util.h"

#define AUTH_SLOTS 4096
#define AUTH_PROBE 16

struct auth_slot {
	char key[STORE_EMAIL_MAX + 8];
	int64_t window_start;
	int failures;
};

struct auth_limiter {
	struct auth_slot slots[AUTH_SLOTS];
};

ccm_code auth_init(struct ccmd *d, struct ccm_error *err)
{
	char pw[32];
	ccm_code rc;

	d->limiter = calloc(1, sizeof(*d->limiter));
	if (d->limiter == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	/* Unknown users are checked against this, at the same cost. */
	auth_random_password(pw);
	rc = auth_hash_password(d, pw, d->dummy_hash, err);
	OPENSSL_cleanse(pw, sizeof(pw));
	return rc;
}

void auth_free(struct ccmd *d)
{
	free(d->limiter);
	d->limiter = NULL;
}

static uint32_t auth_fnv(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct auth_slot *auth_slot(struct ccmd *d, const char *key, int64_t now, bool create)
{
	uint32_t h = auth_fnv(key);
	struct auth_slot *oldest = NULL;

	for (int i = 0; i < AUTH_PROBE; i++) {
		struct auth_slot *s = &d->limiter->slots[(h + (uint32_t)i) % AUTH_SLOTS];
		if (strcmp(s->key, key) == 0)
			return s;
		if (oldest == NULL || s->window_start < oldest->window_start)
			oldest = s;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->key, sizeof(oldest->key), "%s", key);
	oldest->window_start = now;
	return oldest;
}

int64_t auth_limit_wait(struct ccmd *d, const char *key, int64_t now)
{
	struct auth_slot *s = auth_slot(d, key, now, false);
	int max = d->cfg.login_max_failures * (key[0] == 'a' ? 4 : 1);

	if (s == NULL || now - s->window_start >= d->cfg.login_window)
		return 0;
	return s->failures >= max ? s->window_start + d->cfg.login_window - now : 0;
}

void auth_limit_fail(struct ccmd *d, const char *key, int64_t now)
{
	struct auth_slot *s = auth_slot(d, key, now, true);

	if (now - s->window_start >= d->cfg.login_window) {
		s->window_start = now;
		s->failures = 0;
	}
	s->failures++;
}

void auth_limit_clear(struct ccmd *d, const char *key)
{
	struct auth_slot *s = auth_slot(d, key, 0, false);

	if (s != NULL)
		memset(s, 0, sizeof(*s));
}

ccm_code auth_hash_password(struct ccmd *d, const char *pw, char out[STORE_HASH_MAX],
                            struct ccm_error *err)
{
	uint8_t salt[16];
	int rc;

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return ccm_fail(err, CCM_E_CRYPTO, "no randomness");
	rc = argon2id_hash_encoded(d->cfg.argon2_t, d->cfg.argon2_m_kib, 1, pw, strlen(pw), salt,
	                           sizeof(salt), 32, out, STORE_HASH_MAX);
	if (rc != ARGON2_OK)
		return ccm_fail(err, CCM_E_CRYPTO, "argon2id: %s", argon2_error_message(rc));
	return CCM_OK;
}

bool auth_check_password(const char *encoded, const char *pw)
{
	return argon2id_verify(encoded, pw, strlen(pw)) == ARGON2_OK;
}

/* Password policy: 8 to 256 bytes, not all one character. */
bool auth_password_ok(struct req *r, const char *pw)
{
	size_t n = strlen(pw);
	size_t same = 0;

	for (size_t i = 0; i < n; i++)
		same += pw[i] == pw[0];
	if (n < 8 || n > 256 || same == n)
		return server_error(r, 400, "weak_password",
		                    "a password needs 8 to 256 characters, not all the same");
	return true;
}

void auth_token_hash(const char *token, size_t len, uint8_t hash[32])
{
	unsigned int n = 32;

	EVP_Digest(token, len, hash, &n, EVP_sha256(), NULL);
}

ccm_code auth_new_token(const char *prefix, char out[80], uint8_t hash[32], struct ccm_error *err)
{
	uint8_t raw[32];
	char hex[65];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return ccm_fail(err, CCM_E_CRYPTO, "no randomness");
	util_hex(raw, sizeof(raw), hex);
	snprintf(out, 80, "%s_%s", prefix, hex);
	auth_token_hash(out, strlen(out), hash);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(hex, sizeof(hex));
	return CCM_OK;
}

void auth_random_password(char out[32])
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	uint8_t raw[20];

	RAND_bytes(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		out[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
	out[sizeof(raw)] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
}

static bool auth_session(struct req *r, const uint8_t hash[32], int64_t now)
{
	struct store_session s;
	struct ccm_error err;

	if (store_session_find(r->d->store, hash, now, &s, &err) != CCM_OK ||
	    CRYPTO_memcmp(s.token_hash, hash, 32) != 0)
		return false;
	memcpy(r->session_hash, hash, 32);
	return store_user_get(r->d->store, s.user_id, &r->user, &err) == CCM_OK;
}

static bool auth_api_token(struct req *r, const uint8_t hash[32], int64_t now)
{
	struct ccm_error err;

	if (store_token_find(r->d->store, hash, now, &r->token, &err) != CCM_OK ||
	    CRYPTO_memcmp(r->token.token_hash, hash, 32) != 0)
		return false;
	r->via_token = true;
	return store_user_get(r->d->store, r->token.user_id, &r->user, &err) == CCM_OK;
}

bool auth_request(struct req *r)
{
	const char *h =
	        evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Authorization");
	int64_t now = (int64_t)time(NULL);
	uint8_t hash[32];
	const char *tok;
	bool ok;

	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return server_error(r, 401, "unauthorized", "a bearer token is required");
	tok = h + 7;
	if (strlen(tok) != 69 || (strncmp(tok, "ccms_", 5) != 0 && strncmp(tok, "ccmt_", 5) != 0))
		return server_error(r, 401, "unauthorized", "malformed bearer token");
	auth_token_hash(tok, strlen(tok), hash);
	ok = tok[3] == 's' ? auth_session(r, hash, now) : auth_api_token(r, hash, now);
	OPENSSL_cleanse(hash, sizeof(hash));
	if (!ok) {
		r->via_token = false;
		memset(&r->user, 0, sizeof(r->user));
		return server_error(r, 401, "unauthorized", "token unknown, expired or revoked");
	}
	if (r->user.disabled) {
		r->via_token = false;
		return server_error(r, 401, "unauthorized", "user disabled");
	}
	r->authed = true;
	return true;
}

void auth_email_lower(const char *in, char out[STORE_EMAIL_MAX + 1])
{
	size_t i;

	for (i = 0; in[i] && i < STORE_EMAIL_MAX; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
	out[i] = '\0';
}

bool auth_email(struct req *r, const char *in, char out[STORE_EMAIL_MAX + 1])
{
	const char *at = strchr(in, '@');
	size_t n = strlen(in);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)in[i] <= ' ' || in[i] == ':' || in[i] == 0x7f)
			return server_error(r, 400, "invalid_field",
			                    "field 'email' is not an e-mail address");
	if (at == NULL || at == in || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
	    n > STORE_EMAIL_MAX)
		return server_error(r, 400, "invalid_field",
		                    "field 'email' is not an e-mail address");
	auth_email_lower(in, out);
	return true;
}
