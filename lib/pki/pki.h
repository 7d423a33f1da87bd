/*
 * DESIGN: the manager's certificate authority work, on OpenSSL 3 EVP and
 * X509 only: ECDSA P-256 keys, self-signed roots (the manager CA and one
 * per account), server certificates with DNS/IP SANs, and conversions
 * between keys/certificates and PEM/DER. Private keys leave this module
 * only as DER meant to be sealed (seal.h) and are cleansed when freed.
 */
#ifndef CCM_PKI_H
#define CCM_PKI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "ccm/ccm.h"

ccm_code pki_ec_keygen(EVP_PKEY **out, struct ccm_error *err);

/* Self-signed CA (basicConstraints CA:TRUE, keyCertSign|cRLSign). */
ccm_code pki_ca_create(const char *cn, int days, EVP_PKEY **key, X509 **cert,
                       struct ccm_error *err);

/* Server certificate for names (DNS names or IPv4/IPv6 literals), signed
 * by the CA. A new P-256 key is made for it. */
ccm_code pki_server_issue(X509 *ca, EVP_PKEY *ca_key, const char *const *names, size_t n, int days,
                          EVP_PKEY **key, X509 **cert, struct ccm_error *err);

/* PEM text of a certificate (malloc'ed, NUL-terminated). */
ccm_code pki_cert_pem(X509 *cert, char **out, struct ccm_error *err);
ccm_code pki_cert_from_pem(const char *pem, size_t len, X509 **out, struct ccm_error *err);

/* PKCS#8 DER of a private key (malloc'ed; free with OPENSSL_clear_free). */
ccm_code pki_key_der(EVP_PKEY *key, uint8_t **out, size_t *len, struct ccm_error *err);
ccm_code pki_key_from_der(const uint8_t *der, size_t len, EVP_PKEY **out, struct ccm_error *err);

#endif
