/*
 * The compact revocation set: every accepted CRL's revoked serials in one
 * flat, position-independent, read-only image.
 *
 * crld builds it (crlset_builder_*), seals it in a memfd and hands it to
 * the parent, which keeps the current one and passes a descriptor to the
 * front.  The front maps it read-only and shared (crlset_map()): all
 * sessions use the one mapping, and a lookup is a binary search, so the
 * cost of a handshake does not depend on the size of the CRLs.  OpenSSL's
 * own CRL checking is never used for client certificates: it re-verifies
 * the whole CRL's signature on every handshake.
 *
 * Layout (host byte order: producer and consumer are the same host):
 *	struct crlset_hdr
 *	struct crlset_crl[ncrl]		one per CRL, in any order
 *	struct crlset_entry[nentries]	each CRL's entries are the range
 *					[first, first + count), sorted by key
 * The image is exactly hdr.size bytes.  crlset_open() checks the magic,
 * version, every size and range, NUL termination and sort order before a
 * single lookup trusts it: the front takes it from another process.
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
 * entry has none.  certificateHold counts as revoked while it is listed;
 * removeFromCRL (8) belongs to delta CRLs, which crld refuses, so such an
 * entry in a full CRL means "not revoked" and the builder drops it.
 *
 * Issuers.  A CRL record applies to a certificate when the SHA-256 of
 * the DER of the certificate's issuer name equals the record's
 * issuer_hash, and, if both the record and the certificate carry a key
 * identifier (record keyid = the issuing CA's subjectKeyIdentifier,
 * certificate = its authorityKeyIdentifier), those are equal.  A CRL
 * signed by a separate CRL-signing key of the CA has no keyid: it covers
 * every key of that CA name.
 */
#ifndef SMTPCERTD_CRLSET_H
#define SMTPCERTD_CRLSET_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/asn1.h>

#define CRLSET_MAGIC		"SCDCRLS1"
#define CRLSET_VERSION		1
#define CRLSET_KEY_LEN		21	/* length octet + 20 */
#define CRLSET_SERIAL_MAX	20	/* stored verbatim up to this */
#define CRLSET_KEY_HASHED	0xff
#define CRLSET_REASON_NONE	0xff
#define CRLSET_REASON_REMOVE	8	/* removeFromCRL */
#define CRLSET_HASH_LEN		32	/* SHA-256 */
#define CRLSET_KEYID_MAX	32
#define CRLSET_SOURCE_MAX	64	/* source name, NUL included */
/* Bounds a consumer enforces on an image it is handed. */
#define CRLSET_MAX_CRLS		4096
#define CRLSET_MAX_ENTRIES	(16U * 1024 * 1024)

struct crlset_hdr {
	char		 magic[8];
	uint32_t	 version;
	uint32_t	 ncrl;
	uint64_t	 nentries;
	uint64_t	 size;		/* whole image, header included */
	uint64_t	 serial;	/* crld's build counter */
	int64_t		 built;		/* time(3) at build */
	uint8_t		 reserved[16];
};

struct crlset_crl {
	uint8_t		 issuer_hash[CRLSET_HASH_LEN];
	uint8_t		 keyid[CRLSET_KEYID_MAX];
	uint8_t		 keyidlen;	/* 0: any key of this issuer name */
	uint8_t		 stale;		/* enum stale_policy of the source */
	uint8_t		 pad[6];
	int64_t		 this_update;
	int64_t		 next_update;	/* 0: none given */
	uint64_t	 first;
	uint64_t	 count;
	char		 source[CRLSET_SOURCE_MAX];
};

struct crlset_entry {
	uint8_t		 key[CRLSET_KEY_LEN];
	uint8_t		 reason;
	uint8_t		 pad[2];
};

enum crlset_result {
	CRLSET_GOOD,		/* a fresh CRL of the issuer lacks it */
	CRLSET_REVOKED,		/* listed (in any CRL of the issuer) */
	CRLSET_NO_CRL,		/* no CRL of this issuer in the set */
	CRLSET_STALE		/* not listed, but every CRL of the issuer
				 * is past its nextUpdate */
};

struct crlset_answer {
	enum crlset_result	 result;
	int			 reason;	/* CRLReason, REVOKED only */
	int			 stale;		/* policy of the CRL used */
	const char		*source;	/* CRL used, NULL for NO_CRL */
	int64_t			 next_update;
};

/* A validated image (points into the caller's memory or mapping). */
struct crlset {
	const struct crlset_hdr		*hdr;
	const struct crlset_crl		*crls;
	const struct crlset_entry	*entries;
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
const char *crlset_result_name(enum crlset_result);

/*
 * Build.  Add CRLs in any order, each followed by its entries (in any
 * order; duplicates are merged).  crlset_builder_finish() sorts, lays out
 * the image into a malloc'd buffer and frees the builder.
 */
struct crlset_builder;
struct crlset_builder *crlset_builder_new(void);
int	crlset_builder_crl(struct crlset_builder *, const struct crlset_crl *);
int	crlset_builder_entry(struct crlset_builder *,
	    const uint8_t key[CRLSET_KEY_LEN], int reason);
/* Add n prepared, sorted entries to the current CRL in one go. */
int	crlset_builder_entries(struct crlset_builder *,
	    const struct crlset_entry *, size_t n);
int	crlset_builder_finish(struct crlset_builder *, uint64_t serial,
	    time_t now, unsigned char **buf, size_t *len);
void	crlset_builder_free(struct crlset_builder *);

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

/*
 * Look up one certificate: issuer_hash of its issuer name, its
 * authorityKeyIdentifier (NULL/0 if none), its serial as DER INTEGER
 * content octets.  now decides staleness.
 */
void	crlset_check(const struct crlset *, const uint8_t *issuer_hash,
	    const uint8_t *akid, size_t akidlen, const uint8_t *serial,
	    size_t seriallen, time_t now, struct crlset_answer *);
/* The same with the serial's key (crlset_key(), crlset_key_asn1()). */
void	crlset_check_key(const struct crlset *, const uint8_t *issuer_hash,
	    const uint8_t *akid, size_t akidlen,
	    const uint8_t key[CRLSET_KEY_LEN], time_t now,
	    struct crlset_answer *);

#endif
