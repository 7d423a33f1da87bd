/*
 * DESIGN: a PCK chain is checked once, whatever T will be: roles come from
 * subject and issuer, never from PEM order (real quotes carry PCK, Root,
 * Intermediate); the three signatures, the names, the leaf key type and
 * the SGX extension are settled here and the outcome is stored in the
 * chain. What depends on T (validity) or on a collateral set (the trust
 * anchor, the CRLs) stays as numbers and hashes for qvl.c to compare,
 * so the verifier can cache the chain by its bytes and reuse it for every
 * quote of the same platform.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "internal.h"

static ccm_code pckchain_sigs(struct pck_chain *c, struct ccm_error *err)
{
	EVP_PKEY *rk = X509_get0_pubkey(c->root), *ik = X509_get0_pubkey(c->inter);
	char grp[32] = "";
	size_t glen = 0;

	if (rk == NULL || X509_verify(c->root, rk) != 1)
		return ccm_fail(err, CCM_E_VERIFY,
		                "pck chain: the root certificate's self-signature "
		                "does not verify");
	if (ik == NULL || X509_verify(c->inter, rk) != 1)
		return ccm_fail(err, CCM_E_VERIFY,
		                "pck chain: the intermediate CA certificate is not "
		                "signed by the root");
	if (X509_verify(c->leaf, ik) != 1)
		return ccm_fail(err, CCM_E_VERIFY,
		                "pck chain: the PCK certificate is not signed by "
		                "the intermediate CA");
	if (!dcap_cn_contains(X509_get_subject_name(c->leaf), "SGX PCK Certificate") ||
	    !dcap_cn_contains(X509_get_subject_name(c->inter), "CA") ||
	    !dcap_cn_contains(X509_get_subject_name(c->root), "SGX Root CA"))
		return ccm_fail(
		        err, CCM_E_VERIFY,
		        "pck chain: subject names are not PCK Certificate / CA / SGX Root CA");
	c->leaf_key = X509_get0_pubkey(c->leaf);
	if (c->leaf_key == NULL || !EVP_PKEY_is_a(c->leaf_key, "EC") ||
	    !EVP_PKEY_get_group_name(c->leaf_key, grp, sizeof(grp), &glen) ||
	    strcmp(grp, "prime256v1") != 0)
		return ccm_fail(err, CCM_E_VERIFY, "pck chain: the PCK key is not ECDSA P-256");
	if (dcap_key_hash(rk, c->root_hash) != CCM_OK || dcap_key_hash(ik, c->inter_hash) != CCM_OK)
		return ccm_fail(err, CCM_E_CRYPTO, "pck chain: cannot encode a public key");
	return dcap_verify_init(c->leaf_key, &c->leaf_ctx, err);
}

static ccm_code pckchain_times(struct pck_chain *c, struct ccm_error *err)
{
	X509 *x[3] = {c->root, c->inter, c->leaf};

	for (int i = 0; i < 3; i++)
		if (dcap_asn1_time(X509_get0_notBefore(x[i]), &c->nb[i]) != CCM_OK ||
		    dcap_asn1_time(X509_get0_notAfter(x[i]), &c->na[i]) != CCM_OK)
			return ccm_fail(err, CCM_E_VERIFY,
			                "pck chain: certificate %d: bad validity "
			                "time",
			                i);
	return CCM_OK;
}

static void pckchain_check(struct pck_chain *c, STACK_OF(X509) * certs)
{
	X509 *o[3];

	c->code = dcap_order_chain(certs, o, 3, "pck chain", &c->err);
	if (c->code != CCM_OK)
		return;
	for (int i = 0; i < 3; i++)
		X509_up_ref(o[i]);
	c->root = o[0];
	c->inter = o[1];
	c->leaf = o[2];
	c->code = pckchain_sigs(c, &c->err);
	if (c->code == CCM_OK)
		c->code = pckchain_times(c, &c->err);
	if (c->code == CCM_OK)
		c->ext_code = pckext_from_cert(c->leaf, &c->ext, &c->ext_err);
	ERR_clear_error();
}

ccm_code pckchain_new(STACK_OF(X509) * certs, struct pck_chain **out, struct ccm_error *err)
{
	struct pck_chain *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "pck chain: out of memory");
	atomic_init(&c->refs, 1);
	if (pthread_mutex_init(&c->ak_lock, NULL) != 0) {
		free(c);
		return ccm_fail(err, CCM_E_INTERNAL, "pck chain: cannot create a lock");
	}
	pckchain_check(c, certs);
	*out = c;
	return CCM_OK;
}

ccm_code pckchain_from_pem(const uint8_t *pem, size_t len, struct pck_chain **out,
                           struct ccm_error *err)
{
	STACK_OF(X509) *certs = NULL;
	ccm_code rc = dcap_load_certs(pem, len, &certs, "pck chain", err);

	*out = NULL;
	if (rc != CCM_OK)
		return rc;
	rc = pckchain_new(certs, out, err);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

void pckchain_ref(struct pck_chain *c)
{
	atomic_fetch_add(&c->refs, 1);
}

void pckchain_free(struct pck_chain *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	EVP_PKEY_CTX_free(c->leaf_ctx);
	EVP_PKEY_CTX_free(c->ak_ctx);
	pthread_mutex_destroy(&c->ak_lock);
	X509_free(c->root);
	X509_free(c->inter);
	X509_free(c->leaf);
	free(c->key);
	free(c);
}

/* Attestation keys repeat: a platform's QE keeps its key for many quotes.
 * Building an EVP_PKEY from a raw point costs about a third of an ECDSA
 * verification, so the last key per chain is kept as a verify template. */
ccm_code pckchain_ak_ctx(struct pck_chain *c, const uint8_t xy[64], EVP_PKEY_CTX **out,
                         struct ccm_error *err)
{
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *tmpl = NULL;
	ccm_code rc;

	*out = NULL;
	pthread_mutex_lock(&c->ak_lock);
	if (c->have_ak && memcmp(c->ak, xy, 64) == 0)
		*out = EVP_PKEY_CTX_dup(c->ak_ctx);
	pthread_mutex_unlock(&c->ak_lock);
	if (*out != NULL)
		return CCM_OK;
	if ((rc = dcap_p256_key(xy, &key, err)) != CCM_OK ||
	    (rc = dcap_verify_init(key, &tmpl, err)) != CCM_OK)
		goto out;
	*out = EVP_PKEY_CTX_dup(tmpl);
	if (*out == NULL) {
		rc = ccm_fail(err, CCM_E_CRYPTO, "attestation key: cannot copy a context");
		goto out;
	}
	pthread_mutex_lock(&c->ak_lock);
	EVP_PKEY_CTX_free(c->ak_ctx);
	c->ak_ctx = tmpl;
	memcpy(c->ak, xy, 64);
	c->have_ak = true;
	pthread_mutex_unlock(&c->ak_lock);
	tmpl = NULL;
out:
	EVP_PKEY_CTX_free(tmpl);
	EVP_PKEY_free(key);
	return rc;
}

ccm_code ccm_quote_pck_info(const struct ccm_quote *q, struct ccm_quote_pck_info *out,
                            struct ccm_error *err)
{
	STACK_OF(X509) *sk = NULL;
	X509 *leaf = NULL;
	struct pckext e;
	ccm_code rc;

	memset(out, 0, sizeof(*out));
	if (q->cert_type != 5)
		return ccm_fail(err, CCM_E_NOTFOUND,
		                "pck chain: certification data type %u carries no PCK certificate",
		                q->cert_type);
	rc = dcap_load_certs(q->cert_data, q->cert_len, &sk, "pck chain", err);
	if (rc != CCM_OK)
		return rc;
	for (int i = 0; i < sk_X509_num(sk); i++)
		if (dcap_cn_contains(X509_get_subject_name(sk_X509_value(sk, i)),
		                     "SGX PCK Certificate"))
			leaf = sk_X509_value(sk, i);
	if (leaf == NULL)
		rc = ccm_fail(err, CCM_E_INPUT, "pck chain: no PCK certificate");
	else
		rc = pckext_from_cert(leaf, &e, err);
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	if (rc != CCM_OK)
		return rc;
	memcpy(out->fmspc, e.fmspc, 6);
	memcpy(out->pceid, e.pceid, 2);
	memcpy(out->tcb_comp, e.comp, 16);
	out->pcesvn = e.pcesvn;
	memcpy(out->cpusvn, e.cpusvn, 16);
	out->sgx_type = e.sgx_type;
	out->platform = e.platform;
	return CCM_OK;
}
