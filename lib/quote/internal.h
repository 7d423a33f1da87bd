/*
 * DESIGN: what the files of lib/quote share and nothing outside needs: the
 * PCK SGX extension, the parsed TCB info and QE identity, a checked PCK
 * chain and the collateral set. Each file owns one of them (pckext.c,
 * tcbinfo.c, dcap.c, collateral.c, pckchain.c, tcblevel.c, qvl.c,
 * verifier.c) and its
 * functions carry the file's name as their prefix.
 */
#ifndef CCM_QUOTE_INTERNAL_H
#define CCM_QUOTE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "ccm/quote.h"

/* ---- pckext.c: the PCK certificate SGX extension (1.2.840.113741.1.13.1) */

struct pckext {
	uint8_t ppid[16];
	uint8_t comp[16]; /* SGX TCB component SVNs 1..16 */
	uint16_t pcesvn;
	uint8_t cpusvn[16];
	uint8_t pceid[2];
	uint8_t fmspc[6];
	uint8_t sgx_type; /* 0 Standard, 1 Scalable, 2 ScalableWithIntegrity */
	bool platform;    /* has PlatformInstanceID and Configuration */
	uint8_t platform_instance_id[16];
};

/* Parse the DER extension value (the SEQUENCE inside the OCTET STRING). */
ccm_code pckext_parse(const uint8_t *der, size_t len, struct pckext *out, struct ccm_error *err);
/* Find and parse the extension in a certificate. */
ccm_code pckext_from_cert(X509 *cert, struct pckext *out, struct ccm_error *err);

/* ---- tcbinfo.c: TCB info and QE identity JSON --------------------------- */

#define TCB_MAX_LEVELS 256
#define TCB_MAX_MODULES 16

struct tcb_level {
	uint8_t sgx[16];
	uint16_t pcesvn;
	uint8_t tdx[16];
	uint16_t isvsvn; /* QE identity and TDX module levels */
	enum ccm_tcb_status status;
	int64_t tcb_date;
	size_t n_adv;
	char (*adv)[CCM_QUOTE_ADVISORY_MAX];
	size_t order; /* position in the JSON (tie-break) */
};

struct tdx_module_id {
	char id[16];
	uint8_t mrsigner[48];
	uint8_t attributes[8];
	uint8_t attributes_mask[8];
	size_t n_levels;
	struct tcb_level *levels; /* sorted by isvsvn descending */
};

struct tcbinfo {
	int version;
	bool tdx; /* id "TDX" */
	int64_t issue_date, next_update;
	uint8_t fmspc[6];
	uint8_t pceid[2];
	int64_t eval_num;
	bool have_module;
	struct tdx_module_id module; /* tdxModule (no id, no levels) */
	size_t n_modules;
	struct tdx_module_id *modules; /* tdxModuleIdentities */
	size_t n_levels;
	struct tcb_level *levels; /* sorted descending (Intel's set order) */
};

struct qeid {
	char id[16]; /* "QE", "TD_QE", ... */
	int version;
	int64_t issue_date, next_update;
	uint8_t miscselect[4], miscselect_mask[4];
	uint8_t attributes[16], attributes_mask[16];
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	size_t n_levels;
	struct tcb_level *levels; /* sorted by isvsvn descending */
};

/* The exact bytes of the value of top-level member key in a JSON object
 * text, found with a brace matcher that respects strings. */
ccm_code tcbinfo_raw_member(const char *json, size_t len, const char *key, const char **val,
                            size_t *vlen, struct ccm_error *err);
/* Only the signed part of a PCS body: the exact text of the value of key
 * and the signature (checked before the content is interpreted). */
ccm_code tcbinfo_signed(const uint8_t *buf, size_t len, const char *key, const char **raw,
                        size_t *rawlen, uint8_t sig[64], struct ccm_error *err);
/* Parse a PCS body {"tcbInfo":{...},"signature":"..."}: raw is the exact
 * signed text, sig the 64-byte r || s. */
ccm_code tcbinfo_parse(const uint8_t *buf, size_t len, struct tcbinfo *out, const char **raw,
                       size_t *rawlen, uint8_t sig[64], struct ccm_error *err);
void tcbinfo_clear(struct tcbinfo *t);
ccm_code tcbinfo_parse_qeid(const uint8_t *buf, size_t len, struct qeid *out, const char **raw,
                            size_t *rawlen, uint8_t sig[64], struct ccm_error *err);
void tcbinfo_clear_qeid(struct qeid *q);

/* ---- dcap.c: X.509, CRLs, keys, ECDSA, time ------------------------------ */

#define DCAP_MAX_CERTS 8

/* Certificates from PEM (one or more blocks, trailing NULs allowed) or DER. */
ccm_code dcap_load_certs(const uint8_t *buf, size_t len, STACK_OF(X509) * *out, const char *what,
                         struct ccm_error *err);
ccm_code dcap_load_crl(const uint8_t *buf, size_t len, X509_CRL **out, const char *what,
                       struct ccm_error *err);
/* SHA-256 of the DER SubjectPublicKeyInfo. */
ccm_code dcap_key_hash(EVP_PKEY *key, uint8_t out[32]);
/* The production Intel SGX Root CA key hash (the pinned anchor). */
const uint8_t *dcap_intel_root_hash(void);
EVP_PKEY *dcap_intel_root_key(void); /* the same key, never freed */
/* ASN1_TIME to seconds since the epoch. */
ccm_code dcap_asn1_time(const ASN1_TIME *t, int64_t *out);
/* ECDSA P-256 / SHA-256 over msg with a raw r || s signature; *ok says
 * whether it verified (the return code is for library failures). */
ccm_code dcap_verify_raw(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t sig[64],
                         bool *ok, struct ccm_error *err);
/* The same in steps: a prepared context (key + verify_init, made once),
 * used directly (not thread-safe) or copied per call (thread-safe: the
 * template is only read). Copying is ~40 times cheaper than preparing. */
ccm_code dcap_verify_init(EVP_PKEY *key, EVP_PKEY_CTX **out, struct ccm_error *err);
ccm_code dcap_verify_ctx(EVP_PKEY_CTX *ctx, const uint8_t *msg, size_t len, const uint8_t sig[64],
                         bool *ok, struct ccm_error *err);
ccm_code dcap_verify_tmpl(EVP_PKEY_CTX *tmpl, const uint8_t *msg, size_t len, const uint8_t sig[64],
                          bool *ok, struct ccm_error *err);
/* An EC P-256 public key from raw x || y. */
ccm_code dcap_p256_key(const uint8_t xy[64], EVP_PKEY **out, struct ccm_error *err);
/* True when the subject (or issuer) CN contains s. */
bool dcap_cn_contains(const X509_NAME *name, const char *s);
/* Order 2 or 3 certificates by subject/issuer: out[0] root (self-issued,
 * self-signed), then each issued by the previous. */
ccm_code dcap_order_chain(STACK_OF(X509) * certs, X509 **out, int n, const char *what,
                          struct ccm_error *err);
/* SHA-256 digest of msg (the prefetched EVP_MD). */
void dcap_sha256(const uint8_t *msg, size_t len, uint8_t out[32]);

/* ---- pckchain.c: a PCK chain checked once ------------------------------------ */

struct pck_chain {
	atomic_int refs;
	X509 *root, *inter, *leaf;
	EVP_PKEY *leaf_key;     /* owned by leaf */
	EVP_PKEY_CTX *leaf_ctx; /* verify template for the QE report signature */
	/* the last attestation key seen with this chain (one QE per platform):
	 * its bytes and a verify template, replaced under ak_lock */
	pthread_mutex_t ak_lock;
	bool have_ak;
	uint8_t ak[64];
	EVP_PKEY_CTX *ak_ctx;
	uint8_t root_hash[32], inter_hash[32];
	int64_t nb[3], na[3]; /* notBefore / notAfter: root, inter, leaf */
	ccm_code code;        /* structure and signatures (CCM_OK or CCM_E_VERIFY) */
	struct ccm_error err;
	ccm_code ext_code; /* the SGX extension */
	struct ccm_error ext_err;
	struct pckext ext;
	/* cache bookkeeping (verifier.c) */
	uint64_t hash;
	uint8_t *key;
	size_t keylen;
	struct pck_chain *next;
};

/* Build and check a chain from certificates (3 expected). Returns CCM_OK
 * with *out set even when a check failed (recorded in the chain); other
 * codes only for allocation failures. */
ccm_code pckchain_new(STACK_OF(X509) * certs, struct pck_chain **out, struct ccm_error *err);
/* From quote certification data of type 5 (PEM chain). */
ccm_code pckchain_from_pem(const uint8_t *pem, size_t len, struct pck_chain **out,
                           struct ccm_error *err);
void pckchain_ref(struct pck_chain *c);
/* A private verify context for attestation key xy (cached per chain). */
ccm_code pckchain_ak_ctx(struct pck_chain *c, const uint8_t xy[64], EVP_PKEY_CTX **out,
                         struct ccm_error *err);
void pckchain_free(struct pck_chain *c);

/* ---- collateral.c ------------------------------------------------------- */

struct coll_check {
	ccm_code code;
	const char *step;
	struct ccm_error err;
};

struct ccm_quote_collateral {
	atomic_int refs;
	uint8_t anchor_hash[32];
	bool test_root;
	X509 *pck_ca, *pck_ca_root; /* pck_crl_issuer_chain */
	uint8_t pck_ca_hash[32];
	X509_CRL *pck_crl, *root_crl;
	X509 *tcb_signer, *tcb_root;
	X509 *qe_signer, *qe_root;
	struct pck_chain *own_chain; /* from pck_cert.pem, else NULL */
	struct tcbinfo tcb;
	struct qeid qe;
	bool tcb_unusable, qe_unusable; /* bad signature and unparsable content */
	/* signature checks done at load, in Intel's order */
	struct coll_check root_crl_check, pck_crl_check, tcb_check, tcb_sig, qe_check, qe_sig;
	/* validity windows */
	int64_t nb[CCM_PIECE_COUNT], na[CCM_PIECE_COUNT];
};

/* ---- qvl.c / verifier.c ---------------------------------------------- */

/* Run every step against one chain and one collateral set. */
ccm_code qvl_run(const struct ccm_quote *q, struct ccm_quote_collateral *c, struct pck_chain *ch,
                 const struct ccm_quote_verify_opts *o, struct ccm_quote_result *r);

#endif
