/*
 * DESIGN: the two ccm certificate extensions as OpenSSL ASN.1 templates, so
 * that DER encoding and decoding is OpenSSL's, not ours:
 *
 *   EnclaveIdentity ::= SEQUENCE {
 *       mrenclave  OCTET STRING (SIZE (32)),
 *       mrsigner   OCTET STRING (SIZE (32)),
 *       isvprodid  INTEGER (0..65535),
 *       isvsvn     INTEGER (0..65535),
 *       debug      BOOLEAN,
 *       simulated  BOOLEAN }       -- TRUE: the evidence is not hardware
 *
 *   TaggedEvidence ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE {
 *       tag      INTEGER,          -- CBOR tag number of the evidence format
 *       content  OCTET STRING }    -- the evidence, e.g. a DCAP quote
 *
 * The second follows the TCG DICE Attestation Architecture's tagged
 * evidence extension (OID 2.23.133.5.4.9).
 */
#include <openssl/asn1t.h>

#include "cert-int.h"

ASN1_SEQUENCE(CCM_ENCLAVE_ID) =
        {
                ASN1_SIMPLE(CCM_ENCLAVE_ID, mrenclave, ASN1_OCTET_STRING),
                ASN1_SIMPLE(CCM_ENCLAVE_ID, mrsigner, ASN1_OCTET_STRING),
                ASN1_SIMPLE(CCM_ENCLAVE_ID, isvprodid, ASN1_INTEGER),
                ASN1_SIMPLE(CCM_ENCLAVE_ID, isvsvn, ASN1_INTEGER),
                ASN1_SIMPLE(CCM_ENCLAVE_ID, debug, ASN1_BOOLEAN),
                ASN1_SIMPLE(CCM_ENCLAVE_ID, simulated, ASN1_BOOLEAN),
} ASN1_SEQUENCE_END(CCM_ENCLAVE_ID)

                IMPLEMENT_ASN1_FUNCTIONS(CCM_ENCLAVE_ID)

                        ASN1_SEQUENCE(CCM_EVIDENCE) =
                                {
                                        ASN1_SIMPLE(CCM_EVIDENCE, tag, ASN1_INTEGER),
                                        ASN1_SIMPLE(CCM_EVIDENCE, content, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(CCM_EVIDENCE)

                                        IMPLEMENT_ASN1_FUNCTIONS(CCM_EVIDENCE)

                                                ASN1_ITEM_TEMPLATE(CCM_EVIDENCE_LIST) =
                                                        ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF,
                                                                              0, TaggedEvidence,
                                                                              CCM_EVIDENCE)
                                                                ASN1_ITEM_TEMPLATE_END(
                                                                        CCM_EVIDENCE_LIST)

                                                                        IMPLEMENT_ASN1_FUNCTIONS(
                                                                                CCM_EVIDENCE_LIST)
