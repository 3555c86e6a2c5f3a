/*
 * The compact revocation set: every accepted CRL's header (as a "shell")
 * and its revoked serials in one flat, position-independent, read-only
 * image.
 *
 * crld builds it (crlset_builder_*), seals it in a memfd and hands it to
 * the parent, which keeps the current one and passes a descriptor to the
 * front.  The front maps it read-only and shared (crlset_map()): all
 * sessions use the one mapping.
 *
 * How the front uses it (smtpcertd/front/certverify.c): OpenSSL's own verifier
 * does RFC 5280 path validation and CRL processing (scope, issuing
 * distribution point, reasons, delta CRLs, indirect CRLs, the CRL
 * issuer's path).  Each CRL reaches it as an X509_CRL decoded from the
 * CRL's *shell*: the original CRL re-encoded without its
 * revokedCertificates, so issuer, dates and every extension are there but
 * no entry.  The shell's signature no longer matches its contents; the
 * front's X509_CRL_METHOD checks the original signature instead, over
 * the digest of the original tbsCertList that crld stored here (digest,
 * md_nid), and looks entries up here by binary search.  So a handshake
 * never re-verifies a CRL's signature over its million entries, and no
 * entry is ever an OpenSSL object.
 *
 * Layout (host byte order: producer and consumer are the same host):
 *	struct crlset_hdr
 *	struct crlset_crl[ncrl]		one per CRL, in any order
 *	struct crlset_entry[nentries]	each CRL's entries are the range
 *					[first, first + count), sorted by
 *					(key, issuer)
 *	struct crlset_name[nnames]	each CRL's certificateIssuer names
 *					are the range [name_first,
 *					name_first + name_count)
 *	blob[blob_len]			shells and names (DER), referenced
 *					by offset from the start of blob
 * The image is exactly hdr.size bytes.  crlset_open() checks the magic,
 * version, every size, offset and range, NUL termination and sort order
 * before a single lookup trusts it: the front takes it from another
 * process.
 *
 * Keys.  A serial number is keyed by the content octets of its DER
 * INTEGER (two's complement, as on the wire, so 0x00 0x80 and 0x80 stay
 * different numbers).  RFC 5280 caps those at 20 octets: such serials are
 * stored as is, zero-padded, with their length in key[0].  Longer
 * (non-conforming) serials are stored as the first 20 octets of their
 * SHA-256 with key[0] = CRLSET_KEY_HASHED; a collision would need a
 * second-preimage on SHA-256.  Keys compare with memcmp() over all
 * CRLSET_KEY_LEN octets.
 *
 * Reasons.  The RFC 5280 CRLReason code, or CRLSET_REASON_NONE when the
 * entry has none.  removeFromCRL (8) entries are kept (a delta CRL's way
 * of releasing a hold); the verifier treats them as "not revoked".
 *
 * Issuers.  entry.issuer 0: the certificate was issued by the CRL's own
 * issuer.  n > 0: by the name names[crl.name_first + n - 1] (the
 * certificateIssuer entry extension of an indirect CRL, which RFC 5280
 * 5.3.3 carries over to the entries that follow).
 */
#ifndef SMTPCERTD_CRLSET_H
#define SMTPCERTD_CRLSET_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/asn1.h>

#define CRLSET_MAGIC		"SCDCRLS2"
#define CRLSET_VERSION		2
#define CRLSET_KEY_LEN		21	/* length octet + 20 */
#define CRLSET_SERIAL_MAX	20	/* stored verbatim up to this */
#define CRLSET_KEY_HASHED	0xff
#define CRLSET_REASON_NONE	0xff
#define CRLSET_REASON_REMOVE	8	/* removeFromCRL */
#define CRLSET_HASH_LEN		32	/* SHA-256 */
#define CRLSET_KEYID_MAX	32
#define CRLSET_DIGEST_MAX	64	/* EVP_MAX_MD_SIZE */
#define CRLSET_SOURCE_MAX	64	/* source name, NUL included */
/* Bounds a consumer enforces on an image it is handed. */
#define CRLSET_MAX_CRLS		4096
#define CRLSET_MAX_ENTRIES	(16U * 1024 * 1024)
#define CRLSET_MAX_NAMES	65535	/* per CRL: entry.issuer is 16 bits */
#define CRLSET_MAX_SHELL	(64U * 1024)	/* one CRL without entries */
#define CRLSET_MAX_NAME		4096	/* one DER name */

/* crlset_crl.flags: what crld saw, for show crl and traces. */
#define CRLSET_CRL_DELTA	0x01	/* deltaCRLIndicator */
#define CRLSET_CRL_INDIRECT	0x02	/* IDP indirectCRL */
#define CRLSET_CRL_IDP		0x04	/* has an issuing distribution point */
#define CRLSET_CRL_VERIFIED	0x08	/* crld verified the signature with
					 * a configured certificate */

struct crlset_hdr {
	char		 magic[8];
	uint32_t	 version;
	uint32_t	 ncrl;
	uint64_t	 nentries;
	uint64_t	 size;		/* whole image, header included */
	uint64_t	 serial;	/* crld's build counter */
	int64_t		 built;		/* time(3) at build */
	uint32_t	 nnames;
	uint32_t	 pad;
	uint64_t	 blob_off;	/* from the start of the image */
	uint64_t	 blob_len;
};

struct crlset_crl {
	uint8_t		 issuer_hash[CRLSET_HASH_LEN];	/* SHA-256 of the
							 * issuer name DER */
	uint8_t		 keyid[CRLSET_KEYID_MAX];	/* its AKID, if any */
	uint8_t		 keyidlen;
	uint8_t		 stale;		/* enum stale_policy of the source */
	uint8_t		 flags;		/* CRLSET_CRL_* */
	uint8_t		 digest_len;	/* of digest[] */
	int32_t		 md_nid;	/* digest of tbsCertList, the
					 * signature's hash */
	int64_t		 this_update;
	int64_t		 next_update;	/* 0: none given */
	uint64_t	 first;		/* entries */
	uint64_t	 count;
	uint64_t	 shell_off;	/* in blob */
	uint32_t	 shell_len;
	uint32_t	 name_first;	/* names */
	uint32_t	 name_count;
	uint32_t	 pad;
	uint8_t		 digest[CRLSET_DIGEST_MAX];
	char		 source[CRLSET_SOURCE_MAX];
};

struct crlset_entry {
	uint8_t		 key[CRLSET_KEY_LEN];
	uint8_t		 reason;
	uint16_t	 issuer;	/* 0: the CRL's issuer; see above */
	uint32_t	 revoked;	/* revocationDate, time(3) clamped to
					 * 0..UINT32_MAX */
};

struct crlset_name {
	uint64_t	 off;		/* in blob */
	uint32_t	 len;
	uint32_t	 pad;
};

/* A validated image (points into the caller's memory or mapping). */
struct crlset {
	const struct crlset_hdr		*hdr;
	const struct crlset_crl		*crls;
	const struct crlset_entry	*entries;
	const struct crlset_name	*names;
	const uint8_t			*blob;
	size_t				 len;
	int				 mapped;	/* by crlset_map() */
};

/* Key of a serial given as DER INTEGER content octets. */
void	crlset_key(const uint8_t *serial, size_t len,
	    uint8_t key[CRLSET_KEY_LEN]);
/* Key of a serial given as an OpenSSL INTEGER; 0 or -1. */
int	crlset_key_asn1(const ASN1_INTEGER *, uint8_t key[CRLSET_KEY_LEN]);
/* SHA-256 of an issuer name's DER. */
void	crlset_issuer_hash(const uint8_t *der, size_t len,
	    uint8_t out[CRLSET_HASH_LEN]);
const char *crlset_reason_name(int reason);

/*
 * Build.  Add CRLs in any order, each with its shell, then its names
 * (crlset_builder_name(), numbered 1, 2, ... within the CRL), then its
 * entries (in any order; an exact duplicate (key, issuer) is merged).
 * crlset_builder_finish() sorts, lays out the image into a malloc'd
 * buffer and frees the builder.  The crl's first, count, shell_off,
 * shell_len, name_first and name_count are the builder's to set.
 */
struct crlset_builder;
struct crlset_builder *crlset_builder_new(void);
int	crlset_builder_crl(struct crlset_builder *, const struct crlset_crl *,
	    const uint8_t *shell, size_t shell_len);
int	crlset_builder_name(struct crlset_builder *, const uint8_t *der,
	    size_t len);
int	crlset_builder_entry(struct crlset_builder *,
	    const uint8_t key[CRLSET_KEY_LEN], int reason, unsigned issuer,
	    uint32_t revoked);
/* Add n prepared entries, sorted by (key, issuer), to the current CRL in
 * one go. */
int	crlset_builder_entries(struct crlset_builder *,
	    const struct crlset_entry *, size_t n);
int	crlset_builder_finish(struct crlset_builder *, uint64_t serial,
	    time_t now, unsigned char **buf, size_t *len);
void	crlset_builder_free(struct crlset_builder *);
/* The order of entries within a CRL: key, then issuer. */
int	crlset_entry_cmp(const void *, const void *);

/* Copy an image into a sealed memfd (no more writes, growth or
 * shrinking); returns the descriptor or -1. */
int	crlset_memfd(const unsigned char *buf, size_t len);

/*
 * Consume.  crlset_open() validates an image in memory; crlset_map()
 * checks a memfd's seals, maps it read-only and validates it.  Both
 * return 0, or -1 with a reason in why.
 */
int	crlset_open(struct crlset *, const void *buf, size_t len,
	    char *why, size_t whylen);
int	crlset_map(struct crlset *, int fd, char *why, size_t whylen);
void	crlset_unmap(struct crlset *);

/* CRL i's shell (DER) and its name n (1-based) (DER); NULL if none. */
const uint8_t *crlset_shell(const struct crlset *, size_t i, size_t *len);
const uint8_t *crlset_name(const struct crlset *, size_t i, unsigned n,
	    size_t *len);
/*
 * The entries of CRL i with this key: a pointer to the first and their
 * number in *n (all with the same key, sorted by issuer), or NULL and 0.
 * A binary search: the cost does not depend on the size of the CRL.
 */
const struct crlset_entry *crlset_find(const struct crlset *, size_t i,
	    const uint8_t key[CRLSET_KEY_LEN], size_t *n);

#endif
