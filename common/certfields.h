/*
 * Certificate fields, extracted with libcrypto.
 *
 * The front process uses them to fill the placeholders of the LDAP
 * certificate query (SPEC 3.3) and to compare the presented certificate
 * with userCertificate;binary; the e-mail proxy uses certfields_dn_field()
 * to name a user by a subject DN field (SPEC 6).
 *
 * Every value is NUL-terminated, strictly valid UTF-8 (converted from
 * whatever ASN.1 string type the certificate uses), non-empty and at most
 * CERTFIELDS_FIELD_MAX bytes (CERTFIELDS_DN_MAX for {dn} and {issuer}).
 * A value that fails any of these -- notably one with an embedded NUL,
 * which would silently truncate a filter or a user name -- is treated as
 * absent (NULL), and the rest of the certificate is still used: the
 * lookup that names the field then fails, which is the safe outcome.
 * Control characters (0x00-0x1f, 0x7f; bytes >= 0x80 are UTF-8 and fine)
 * are refused the same way, because a directory may fold "a\r\n" into
 * "a " or "a" and so match somebody else; such a field is also flagged,
 * and certfields_ctrl_field() names it, so that a lookup can refuse the
 * certificate for that reason rather than for a missing field.  {dn} and
 * {issuer} escape control bytes (\0D) instead, {sn} and {fp} are
 * digits: those are never refused for it.
 *
 * Field semantics:
 *	cn	subject commonName
 *	sn	serial number, lower-case hex without separators, two digits
 *		per byte of the magnitude as `openssl x509 -serial` prints it
 *		(lower-cased): 0xabc is "0abc", zero is "00", a (non-RFC 5280)
 *		negative serial gets a leading '-'
 *	sn_dec	the same serial in decimal ("2748")
 *	e	subject emailAddress, else the first rfc822Name SAN
 *	upn	first SAN otherName 1.3.6.1.4.1.311.20.2.3 (userPrincipalName,
 *		CAC/PIV), UTF8String only
 *	uid	subject userId (0.9.2342.19200300.100.1.1)
 *	o, ou	subject organizationName, organizationalUnitName
 *	dn	subject as an RFC 4514 string (most specific RDN first, as
 *		OpenSSL's XN_FLAG_RFC2253 prints it, but with UTF-8 left as
 *		is instead of \XX-escaped, so it compares with directory
 *		data); control bytes, including NUL, are \XX-escaped
 *	issuer	issuer DN, same format
 *	fp	SHA-256 of the DER, lower-case hex without colons
 *	issuer_x500  the issuer DN in X.500 order (least specific RDN
 *		first: "C=US,O=Example,CN=Example CA"), as Active Directory
 *		writes it in altSecurityIdentities "X509:<I>...<SR>..."
 *	sn_rev	the serial's bytes in reverse order, lower-case hex (AD's
 *		<SR>: 0x0a1b2c is "2c1b0a"); absent for a negative serial
 *	ski	the subjectKeyIdentifier, lower-case hex (AD's
 *		"X509:<SKI>..."); absent without the extension
 *
 * Multi-valued fields (two OU, two CN, ...): the FIRST in certificate
 * encoding order is used, i.e. the order of the ASN.1 RDNSequence and of
 * `openssl x509 -subject -nameopt oneline` (C=.., O=.., OU=a, OU=b: "a").
 * That is the reverse of the RFC 4514 string in {dn}.  If that first value
 * is unusable the field is absent; we never fall back to a later value,
 * and likewise {e} does not fall back to the SAN when the subject has an
 * unusable emailAddress, so what a certificate maps to is never a guess.
 */
#ifndef SMTPCERTD_CERTFIELDS_H
#define SMTPCERTD_CERTFIELDS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "ldap_filter.h"

#define CERTFIELDS_FIELD_MAX	1024	/* bytes of one field value */
#define CERTFIELDS_DN_MAX	4096	/* bytes of {dn} and {issuer} */
#define CERTFIELDS_SERIAL_MAX	64	/* serial octets (RFC 5280: 20) */
#define CERTFIELDS_PEM_MAX	(1024 * 1024)	/* whole PEM chain input */
#define CERTFIELDS_NVALUES	13	/* placeholders, see _filter_values */

struct certfields {
	char		*cn;
	char		*sn;		/* lower-case hex */
	char		*sn_dec;	/* decimal */
	char		*e;
	char		*upn;
	char		*uid;
	char		*o;
	char		*ou;
	char		*dn;
	char		*issuer;
	char		*fp;
	char		*issuer_x500;	/* issue 15: AD's strong mappings */
	char		*sn_rev;
	char		*ski;
	uint8_t		*der;		/* the leaf, DER, for userCertificate */
	size_t		 derlen;
	X509		*x509;		/* own reference, for _dn_field() */
	unsigned int	 ctrl;		/* private: fields refused for a
					 * control character, see
					 * certfields_ctrl_field() */
};

/*
 * Parse a PEM chain as libtls tls_peer_cert_chain_pem() returns it, leaf
 * first, up to the first block that is not a certificate, or max
 * certificates (0: no limit; 1: the leaf alone, which is all the
 * certificate fields need, and decoding each certificate is costly with
 * OpenSSL 3.0).  The caller frees it with sk_X509_pop_free(chain,
 * X509_free).  NULL if the input does not start with a certificate, is
 * longer than CERTFIELDS_PEM_MAX, or memory runs out.  Never prompts for
 * a passphrase; OpenSSL's error queue is left as it was.  The front
 * needs it for the peer chains of its client-side (libtls) connections,
 * decoded once each through io_tls_peer_chain() (io.h).
 */
STACK_OF(X509)	*certfields_chain_from_pem(const uint8_t *pem, size_t len,
		    int max);
/*
 * Fill *cf from a certificate (the leaf of a chain); takes its own
 * reference.  0, or -1 (x NULL, out of memory) with *cf zeroed.
 */
int	certfields_from_x509(X509 *x, struct certfields *cf);
/*
 * The same for what names a certificate in a log and in a lookup request
 * only: dn, issuer, sn, sn_dec and the DER; the other fields stay NULL.
 * The front's work after each handshake: the lookup's placeholders are
 * filled by ldapd-helper from the DER.
 */
int	certfields_ident(X509 *x, struct certfields *cf);
/*
 * The subject DN (the {dn} format) of a DER certificate, read without
 * decoding the rest of it: no public key, no extensions, so far cheaper
 * than d2i_X509() with OpenSSL 3.0.  For logging a certificate already
 * known by its fingerprint (ldapd-helper's cache hits): it checks
 * nothing else.  malloc'd, or NULL if the DER is not a certificate or
 * the subject is unusable.
 */
char	*certfields_subject_from_der(const uint8_t *der, size_t len);
/*
 * An X.509 name as every log line and reply writes one: RFC 4514
 * (OpenSSL's RFC 2253 printer, most specific RDN first, UTF-8 kept, the
 * {dn} format), into buf, cut at a character when longer.  "" for NULL.
 * Returns buf.
 */
const char *certfields_dn_print(const X509_NAME *, char *buf, size_t len);
/* Free the values and the reference; *cf is zeroed.  NULL is fine. */
void	certfields_free(struct certfields *cf);

/*
 * Value of placeholder name ("cn", "sn", "e", "upn", "uid", "o", "ou",
 * "dn", "issuer", "fp"); {sn} in decimal if serial_decimal.  NULL when
 * the certificate lacks it or the name is unknown: the caller must then
 * fail the lookup.
 */
const char *certfields_get(const struct certfields *cf, const char *name,
	    int serial_decimal);

/*
 * Fill vals (at least CERTFIELDS_NVALUES entries) with every placeholder
 * of ldap_filter_ph_certificate, for ldap_filter_expand_values().  Absent
 * fields get value NULL, which makes the expansion fail if the template
 * uses them.  Values point into *cf.  Returns the number filled, or -1 if
 * nvals is too small.
 */
int	certfields_filter_values(const struct certfields *cf,
	    int serial_decimal, struct ldap_filter_value *vals, size_t nvals);

/*
 * The first placeholder of ldap_filter_ph_certificate that the (checked)
 * template tmpl uses whose value was refused for a control character,
 * or NULL if none; tmpl NULL: any placeholder.  A lookup that gets a
 * name here must fail before LDAP is asked.
 */
const char *certfields_ctrl_field(const struct certfields *cf,
	    const char *tmpl);

/*
 * E-mail proxy user names: the first value of a subject DN field by its
 * short name, case-insensitive, one of
 *	C CN DNQ EA GENQ GN I L N O OU SER SN ST T UID
 * (DNQ dnQualifier, EA emailAddress, GENQ generationQualifier, GN
 * givenName, I initials, L locality, N name, SER the serialNumber
 * attribute of the DN (not the certificate serial), SN surname, ST state,
 * T title, UID userId).  EA is the subject attribute only, no SAN.
 * Returns malloc'd UTF-8 under the rules above, or NULL if the field is
 * absent, unusable or the name unknown.
 */
char	*certfields_dn_field(X509 *x, const char *shortname);
/* Is shortname one of the names above?  For the config check. */
int	certfields_dn_field_known(const char *shortname);

#endif
