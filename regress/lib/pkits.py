#!/usr/bin/python3
"""NIST PKITS (Public Key Interoperability Test Suite, 2011 data as shipped
in Debian's python3-cryptography-vectors) through real smtpcertd
listeners.  regress/test_pkits.sh drives it; a developer may also run it
by hand against a daemon that is already running:

	/usr/bin/python3 regress/lib/pkits.py prepare /tmp/pkits-work
	/usr/bin/python3 regress/lib/pkits.py run /tmp/pkits-work \\
	    --implicit PORT --cases "4.4.* 4.14.24"
	/usr/bin/python3 regress/lib/pkits.py run /tmp/pkits-work --starttls PORT

The daemon needs a configuration like the one test_pkits.sh writes
(pkits_conf: the trust anchor as the listeners' only `ca', crls.conf's
sources, a certificate query "(&(objectClass=inetOrgPerson)
(description={fp}))" against a directory holding users.ldif).  Simplest:
`PKITS_HOLD=600 bash regress/test_pkits.sh` leaves each test's daemon,
slapd and upstream running for 600 s after its run and prints these
commands with the right ports and work directory.

prepare WORK [--data DIR]
	converts the PKITS data once into WORK: ta.pem (the trust anchor),
	cases/NAME.pem (the end-entity certificate, then the chain the
	client sends), cases/NAME.key (its key, from pkcs12/NAME.p12,
	password "password"), users.ldif (one user entry per end-entity
	certificate, found by the certificate's SHA-256 fingerprint in
	`description'), crls.conf (one `crl' source per file in crls/, DER,
	no `ca') and chains.txt (which certificates each case sends).
run WORK (--implicit PORT | --starttls PORT) [--host 127.0.0.1]
    [--threads 8] [--timeout 10] [--cases PATTERNS] [--results FILE]
	runs the cases against one listener: implicit TLS, or plain with
	STARTTLS.  Every case is written to FILE (default
	WORK/results-LISTENER.txt), mismatches also to stdout, and the last
	line is "# PKITS implicit-tls: R/N cases right (skipped: 4.1.5)".
	Exit 0 only when every runnable case is right, 1 otherwise.
	--cases (default $PKITS_CASES) is a list of shell patterns matched
	against the section number (4.4.3) and the file name
	(InvalidRevokedEETest3EE).

A case: a TLS client (ciphers @SECLEVEL=0, so that 1024-bit DSA and
SHA-1 work; TLS 1.2 when the key is DSA) presents the end-entity
certificate, its key and a chain: the intermediate certificates of its
path plus every certificate a relying party needs to check the CRLs that
cover them (a separate CRL-signing certificate, an indirect CRL's
issuer, a cRLIssuer named in a distribution point, the old and new keys
of a rollover).  The chain is a closure over the certificates and CRLs
themselves: issuer names, authority/subject key identifiers, cRLIssuer
names and the issuers of the CRLs covering each certificate, never the
trust anchor.  Then EHLO (after STARTTLS on a STARTTLS listener) and
MAIL FROM:<pkits@example.test>.

	accepted  250 to MAIL FROM
	refused   the handshake failed, a 554 reply (its text is kept), or
	          the connection closed
	error     anything else: another reply (530, 454, ...), a timeout

A case is right when a Valid one is accepted and an Invalid one refused,
under PKITS's default inputs (initial policy set anyPolicy, no explicit
policy required, policy mapping and anyPolicy not inhibited); an error
is never right.  4.1.5 (the end entity's DSA key inherits its parameters
from the CA, so no TLS client can load it) is skipped.
"""

import argparse
import base64
import concurrent.futures
import fnmatch
import glob
import hashlib
import os
import socket
import ssl
import sys
import time
import warnings

DATA = "/usr/lib/python3/dist-packages/cryptography_vectors/x509/PKITS_data"
TA_FILE = "TrustAnchorRootCertificate"
P12_PASSWORD = b"password"
MAX_CHAIN = 60 * 1024		# bytes of DER the client may send
PEOPLE = "ou=people,dc=example,dc=test"

# Section numbers from the PKITS description (4.1 Signature Verification
# ... 4.16 Private Certificate Extensions), one line per end-entity
# certificate file.  The file name says Valid or Invalid; the few that do
# not (4.8, 4.12.3) carry their result under the default inputs here.
# 4.8.1 uses ValidCertificatePathTest1EE, run once as 4.1.1.
SECTIONS = """
4.1.1 ValidCertificatePathTest1EE
4.1.2 InvalidCASignatureTest2EE
4.1.3 InvalidEESignatureTest3EE
4.1.4 ValidDSASignaturesTest4EE
4.1.5 ValidDSAParameterInheritanceTest5EE
4.1.6 InvalidDSASignatureTest6EE
4.2.1 InvalidCAnotBeforeDateTest1EE
4.2.2 InvalidEEnotBeforeDateTest2EE
4.2.3 Validpre2000UTCnotBeforeDateTest3EE
4.2.4 ValidGeneralizedTimenotBeforeDateTest4EE
4.2.5 InvalidCAnotAfterDateTest5EE
4.2.6 InvalidEEnotAfterDateTest6EE
4.2.7 Invalidpre2000UTCEEnotAfterDateTest7EE
4.2.8 ValidGeneralizedTimenotAfterDateTest8EE
4.3.1 InvalidNameChainingTest1EE
4.3.2 InvalidNameChainingOrderTest2EE
4.3.3 ValidNameChainingWhitespaceTest3EE
4.3.4 ValidNameChainingWhitespaceTest4EE
4.3.5 ValidNameChainingCapitalizationTest5EE
4.3.6 ValidNameUIDsTest6EE
4.3.7 ValidRFC3280MandatoryAttributeTypesTest7EE
4.3.8 ValidRFC3280OptionalAttributeTypesTest8EE
4.3.9 ValidUTF8StringEncodedNamesTest9EE
4.3.10 ValidRolloverfromPrintableStringtoUTF8StringTest10EE
4.3.11 ValidUTF8StringCaseInsensitiveMatchTest11EE
4.4.1 InvalidMissingCRLTest1EE
4.4.2 InvalidRevokedCATest2EE
4.4.3 InvalidRevokedEETest3EE
4.4.4 InvalidBadCRLSignatureTest4EE
4.4.5 InvalidBadCRLIssuerNameTest5EE
4.4.6 InvalidWrongCRLTest6EE
4.4.7 ValidTwoCRLsTest7EE
4.4.8 InvalidUnknownCRLEntryExtensionTest8EE
4.4.9 InvalidUnknownCRLExtensionTest9EE
4.4.10 InvalidUnknownCRLExtensionTest10EE
4.4.11 InvalidOldCRLnextUpdateTest11EE
4.4.12 Invalidpre2000CRLnextUpdateTest12EE
4.4.13 ValidGeneralizedTimeCRLnextUpdateTest13EE
4.4.14 ValidNegativeSerialNumberTest14EE
4.4.15 InvalidNegativeSerialNumberTest15EE
4.4.16 ValidLongSerialNumberTest16EE
4.4.17 ValidLongSerialNumberTest17EE
4.4.18 InvalidLongSerialNumberTest18EE
4.4.19 ValidSeparateCertificateandCRLKeysTest19EE
4.4.20 InvalidSeparateCertificateandCRLKeysTest20EE
4.4.21 InvalidSeparateCertificateandCRLKeysTest21EE
4.5.1 ValidBasicSelfIssuedOldWithNewTest1EE
4.5.2 InvalidBasicSelfIssuedOldWithNewTest2EE
4.5.3 ValidBasicSelfIssuedNewWithOldTest3EE
4.5.4 ValidBasicSelfIssuedNewWithOldTest4EE
4.5.5 InvalidBasicSelfIssuedNewWithOldTest5EE
4.5.6 ValidBasicSelfIssuedCRLSigningKeyTest6EE
4.5.7 InvalidBasicSelfIssuedCRLSigningKeyTest7EE
4.5.8 InvalidBasicSelfIssuedCRLSigningKeyTest8EE
4.6.1 InvalidMissingbasicConstraintsTest1EE
4.6.2 InvalidcAFalseTest2EE
4.6.3 InvalidcAFalseTest3EE
4.6.4 ValidbasicConstraintsNotCriticalTest4EE
4.6.5 InvalidpathLenConstraintTest5EE
4.6.6 InvalidpathLenConstraintTest6EE
4.6.7 ValidpathLenConstraintTest7EE
4.6.8 ValidpathLenConstraintTest8EE
4.6.9 InvalidpathLenConstraintTest9EE
4.6.10 InvalidpathLenConstraintTest10EE
4.6.11 InvalidpathLenConstraintTest11EE
4.6.12 InvalidpathLenConstraintTest12EE
4.6.13 ValidpathLenConstraintTest13EE
4.6.14 ValidpathLenConstraintTest14EE
4.6.15 ValidSelfIssuedpathLenConstraintTest15EE
4.6.16 InvalidSelfIssuedpathLenConstraintTest16EE
4.6.17 ValidSelfIssuedpathLenConstraintTest17EE
4.7.1 InvalidkeyUsageCriticalkeyCertSignFalseTest1EE
4.7.2 InvalidkeyUsageNotCriticalkeyCertSignFalseTest2EE
4.7.3 ValidkeyUsageNotCriticalTest3EE
4.7.4 InvalidkeyUsageCriticalcRLSignFalseTest4EE
4.7.5 InvalidkeyUsageNotCriticalcRLSignFalseTest5EE
4.8.2 AllCertificatesNoPoliciesTest2EE valid
4.8.3 DifferentPoliciesTest3EE valid
4.8.4 DifferentPoliciesTest4EE invalid
4.8.5 DifferentPoliciesTest5EE invalid
4.8.6 OverlappingPoliciesTest6EE valid
4.8.7 DifferentPoliciesTest7EE invalid
4.8.8 DifferentPoliciesTest8EE invalid
4.8.9 DifferentPoliciesTest9EE invalid
4.8.10 AllCertificatesSamePoliciesTest10EE valid
4.8.11 AllCertificatesanyPolicyTest11EE valid
4.8.12 DifferentPoliciesTest12EE invalid
4.8.13 AllCertificatesSamePoliciesTest13EE valid
4.8.14 AnyPolicyTest14EE valid
4.8.15 UserNoticeQualifierTest15EE valid
4.8.16 UserNoticeQualifierTest16EE valid
4.8.17 UserNoticeQualifierTest17EE valid
4.8.18 UserNoticeQualifierTest18EE valid
4.8.19 UserNoticeQualifierTest19EE valid
4.8.20 CPSPointerQualifierTest20EE valid
4.9.1 ValidrequireExplicitPolicyTest1EE
4.9.2 ValidrequireExplicitPolicyTest2EE
4.9.3 InvalidrequireExplicitPolicyTest3EE
4.9.4 ValidrequireExplicitPolicyTest4EE
4.9.5 InvalidrequireExplicitPolicyTest5EE
4.9.6 ValidSelfIssuedrequireExplicitPolicyTest6EE
4.9.7 InvalidSelfIssuedrequireExplicitPolicyTest7EE
4.9.8 InvalidSelfIssuedrequireExplicitPolicyTest8EE
4.10.1 ValidPolicyMappingTest1EE
4.10.2 InvalidPolicyMappingTest2EE
4.10.3 ValidPolicyMappingTest3EE
4.10.4 InvalidPolicyMappingTest4EE
4.10.5 ValidPolicyMappingTest5EE
4.10.6 ValidPolicyMappingTest6EE
4.10.7 InvalidMappingFromanyPolicyTest7EE
4.10.8 InvalidMappingToanyPolicyTest8EE
4.10.9 ValidPolicyMappingTest9EE
4.10.10 InvalidPolicyMappingTest10EE
4.10.11 ValidPolicyMappingTest11EE
4.10.12 ValidPolicyMappingTest12EE
4.10.13 ValidPolicyMappingTest13EE
4.10.14 ValidPolicyMappingTest14EE
4.11.1 InvalidinhibitPolicyMappingTest1EE
4.11.2 ValidinhibitPolicyMappingTest2EE
4.11.3 InvalidinhibitPolicyMappingTest3EE
4.11.4 ValidinhibitPolicyMappingTest4EE
4.11.5 InvalidinhibitPolicyMappingTest5EE
4.11.6 InvalidinhibitPolicyMappingTest6EE
4.11.7 ValidSelfIssuedinhibitPolicyMappingTest7EE
4.11.8 InvalidSelfIssuedinhibitPolicyMappingTest8EE
4.11.9 InvalidSelfIssuedinhibitPolicyMappingTest9EE
4.11.10 InvalidSelfIssuedinhibitPolicyMappingTest10EE
4.11.11 InvalidSelfIssuedinhibitPolicyMappingTest11EE
4.12.1 InvalidinhibitAnyPolicyTest1EE
4.12.2 ValidinhibitAnyPolicyTest2EE
4.12.3 inhibitAnyPolicyTest3EE valid
4.12.4 InvalidinhibitAnyPolicyTest4EE
4.12.5 InvalidinhibitAnyPolicyTest5EE
4.12.6 InvalidinhibitAnyPolicyTest6EE
4.12.7 ValidSelfIssuedinhibitAnyPolicyTest7EE
4.12.8 InvalidSelfIssuedinhibitAnyPolicyTest8EE
4.12.9 ValidSelfIssuedinhibitAnyPolicyTest9EE
4.12.10 InvalidSelfIssuedinhibitAnyPolicyTest10EE
4.13.1 ValidDNnameConstraintsTest1EE
4.13.2 InvalidDNnameConstraintsTest2EE
4.13.3 InvalidDNnameConstraintsTest3EE
4.13.4 ValidDNnameConstraintsTest4EE
4.13.5 ValidDNnameConstraintsTest5EE
4.13.6 ValidDNnameConstraintsTest6EE
4.13.7 InvalidDNnameConstraintsTest7EE
4.13.8 InvalidDNnameConstraintsTest8EE
4.13.9 InvalidDNnameConstraintsTest9EE
4.13.10 InvalidDNnameConstraintsTest10EE
4.13.11 ValidDNnameConstraintsTest11EE
4.13.12 InvalidDNnameConstraintsTest12EE
4.13.13 InvalidDNnameConstraintsTest13EE
4.13.14 ValidDNnameConstraintsTest14EE
4.13.15 InvalidDNnameConstraintsTest15EE
4.13.16 InvalidDNnameConstraintsTest16EE
4.13.17 InvalidDNnameConstraintsTest17EE
4.13.18 ValidDNnameConstraintsTest18EE
4.13.19 ValidDNnameConstraintsTest19EE
4.13.20 InvalidDNnameConstraintsTest20EE
4.13.21 ValidRFC822nameConstraintsTest21EE
4.13.22 InvalidRFC822nameConstraintsTest22EE
4.13.23 ValidRFC822nameConstraintsTest23EE
4.13.24 InvalidRFC822nameConstraintsTest24EE
4.13.25 ValidRFC822nameConstraintsTest25EE
4.13.26 InvalidRFC822nameConstraintsTest26EE
4.13.27 ValidDNandRFC822nameConstraintsTest27EE
4.13.28 InvalidDNandRFC822nameConstraintsTest28EE
4.13.29 InvalidDNandRFC822nameConstraintsTest29EE
4.13.30 ValidDNSnameConstraintsTest30EE
4.13.31 InvalidDNSnameConstraintsTest31EE
4.13.32 ValidDNSnameConstraintsTest32EE
4.13.33 InvalidDNSnameConstraintsTest33EE
4.13.34 ValidURInameConstraintsTest34EE
4.13.35 InvalidURInameConstraintsTest35EE
4.13.36 ValidURInameConstraintsTest36EE
4.13.37 InvalidURInameConstraintsTest37EE
4.13.38 InvalidDNSnameConstraintsTest38EE
4.14.1 ValiddistributionPointTest1EE
4.14.2 InvaliddistributionPointTest2EE
4.14.3 InvaliddistributionPointTest3EE
4.14.4 ValiddistributionPointTest4EE
4.14.5 ValiddistributionPointTest5EE
4.14.6 InvaliddistributionPointTest6EE
4.14.7 ValiddistributionPointTest7EE
4.14.8 InvaliddistributionPointTest8EE
4.14.9 InvaliddistributionPointTest9EE
4.14.10 ValidNoissuingDistributionPointTest10EE
4.14.11 InvalidonlyContainsUserCertsTest11EE
4.14.12 InvalidonlyContainsCACertsTest12EE
4.14.13 ValidonlyContainsCACertsTest13EE
4.14.14 InvalidonlyContainsAttributeCertsTest14EE
4.14.15 InvalidonlySomeReasonsTest15EE
4.14.16 InvalidonlySomeReasonsTest16EE
4.14.17 InvalidonlySomeReasonsTest17EE
4.14.18 ValidonlySomeReasonsTest18EE
4.14.19 ValidonlySomeReasonsTest19EE
4.14.20 InvalidonlySomeReasonsTest20EE
4.14.21 InvalidonlySomeReasonsTest21EE
4.14.22 ValidIDPwithindirectCRLTest22EE
4.14.23 InvalidIDPwithindirectCRLTest23EE
4.14.24 ValidIDPwithindirectCRLTest24EE
4.14.25 ValidIDPwithindirectCRLTest25EE
4.14.26 InvalidIDPwithindirectCRLTest26EE
4.14.27 InvalidcRLIssuerTest27EE
4.14.28 ValidcRLIssuerTest28EE
4.14.29 ValidcRLIssuerTest29EE
4.14.30 ValidcRLIssuerTest30EE
4.14.31 InvalidcRLIssuerTest31EE
4.14.32 InvalidcRLIssuerTest32EE
4.14.33 ValidcRLIssuerTest33EE
4.14.34 InvalidcRLIssuerTest34EE
4.14.35 InvalidcRLIssuerTest35EE
4.15.1 InvaliddeltaCRLIndicatorNoBaseTest1EE
4.15.2 ValiddeltaCRLTest2EE
4.15.3 InvaliddeltaCRLTest3EE
4.15.4 InvaliddeltaCRLTest4EE
4.15.5 ValiddeltaCRLTest5EE
4.15.6 InvaliddeltaCRLTest6EE
4.15.7 ValiddeltaCRLTest7EE
4.15.8 ValiddeltaCRLTest8EE
4.15.9 InvaliddeltaCRLTest9EE
4.15.10 InvaliddeltaCRLTest10EE
4.16.1 ValidUnknownNotCriticalCertificateExtensionTest1EE
4.16.2 InvalidUnknownCriticalCertificateExtensionTest2EE
"""

# Cases no TLS client can run, with the reason.
SKIP = {
    "4.1.5": "the EE's DSA key inherits p, q, g from its CA: no TLS "
             "client can load it",
}


def cases():
    """[(section, name, expected)], expected "accepted" or "refused"."""
    out = []
    for line in SECTIONS.strip().splitlines():
        f = line.split()
        sec, name = f[0], f[1]
        if len(f) > 2:
            valid = f[2] == "valid"
        elif name.startswith("Valid"):
            valid = True
        elif name.startswith("Invalid"):
            valid = False
        else:
            raise SystemExit("pkits.py: no expected result for " + name)
        out.append((sec, name, "accepted" if valid else "refused"))
    return out


def select(all_cases, patterns):
    if not patterns:
        return all_cases
    pats = patterns.split()
    return [c for c in all_cases
            if any(fnmatch.fnmatchcase(c[0], p) or
                   fnmatch.fnmatchcase(c[1], p) for p in pats)]


# --- prepare -------------------------------------------------------------

def _x509():
    # cryptography warns about PKITS's negative serial numbers (4.4.14,
    # 4.4.15): they are the point of those tests.
    warnings.simplefilter("ignore")
    from cryptography import x509
    return x509


def norm_name(name):
    """A Name compared the way RFC 5280 (7.1) compares them, roughly:
    RDNs in order, attribute values case-folded with inner white space
    collapsed; good enough to find PKITS's issuers (4.3.3-4.3.11)."""
    out = []
    for rdn in name.rdns:
        out.append(tuple(sorted(
            (a.oid.dotted_string,
             " ".join(str(a.value).split()).casefold()
             if isinstance(a.value, str) else repr(a.value))
            for a in rdn)))
    return tuple(out)


class Cert:
    def __init__(self, x509, path):
        self.name = os.path.basename(path)[:-4]
        self.der = open(path, "rb").read()
        c = x509.load_der_x509_certificate(self.der)
        self.cert = c
        self.subject = norm_name(c.subject)
        self.issuer = norm_name(c.issuer)
        self.ski = self.aki = None
        self.crl_issuers = set()
        try:
            self.ski = c.extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            pass
        try:
            self.aki = c.extensions.get_extension_for_class(
                x509.AuthorityKeyIdentifier).value.key_identifier
        except x509.ExtensionNotFound:
            pass
        try:
            dps = c.extensions.get_extension_for_class(
                x509.CRLDistributionPoints).value
            for dp in dps:
                for gn in dp.crl_issuer or ():
                    if isinstance(gn, x509.DirectoryName):
                        self.crl_issuers.add(norm_name(gn.value))
        except x509.ExtensionNotFound:
            pass


def _tlv(d, i):
    """(tag, start of contents, end) of the DER element at d[i]."""
    tag, n = d[i], d[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(d[i:i + k], "big")
        i += k
    return tag, i, i + n


def crl_issuer_der(d):
    """The issuer Name of a DER CRL, as DER, without a full parse."""
    _, i, _ = _tlv(d, 0)		# CertificateList
    _, i, _ = _tlv(d, i)		# tbsCertList
    tag, _, end = _tlv(d, i)
    if tag == 0x02:			# version
        i = end
    _, _, i = _tlv(d, i)		# signature AlgorithmIdentifier
    _, _, end = _tlv(d, i)
    return d[i:end]


class Crl:
    def __init__(self, x509, path, subjects):
        self.name = os.path.basename(path)[:-4]
        self.path = path
        self.aki = None
        der = open(path, "rb").read()
        try:
            c = x509.load_der_x509_crl(der)
        except ValueError:
            # cryptography 38 cannot parse every PKITS CRL (e.g. the
            # negative serial numbers of 4.4.15): find the issuer among
            # the certificates' subjects by its DER.
            self.issuer = subjects.get(crl_issuer_der(der))
            return
        self.issuer = norm_name(c.issuer)
        try:
            self.aki = c.extensions.get_extension_for_class(
                x509.AuthorityKeyIdentifier).value.key_identifier
        except x509.ExtensionNotFound:
            pass


def chain_for(ee, certs, crls, ta):
    """The certificates a client sends with ee: see the module text."""
    pool = [c for c in certs if c is not ta and c is not ee]
    chain, seen, queue = [], {ee.name}, [ee]
    while queue:
        c = queue.pop(0)
        names = {c.issuer} | c.crl_issuers
        keys = {c.aki} - {None}
        for crl in crls:
            if crl.issuer in names and crl.aki is not None:
                keys.add(crl.aki)
        for cand in pool:
            if cand.name in seen:
                continue
            if cand.subject in names or (cand.ski is not None and
                                         cand.ski in keys):
                # Never the trust anchor, nor another certificate of its
                # name and key (there is none in PKITS).
                if cand.subject == ta.subject and cand.ski == ta.ski:
                    continue
                seen.add(cand.name)
                chain.append(cand)
                queue.append(cand)
    return chain


def pem(der, label="CERTIFICATE"):
    b = base64.b64encode(der).decode()
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (
        label, "\n".join(b[i:i + 64] for i in range(0, len(b), 64)), label)


def convert_key(job):
    """pkcs12/NAME.p12 -> cases/NAME.key (PKCS#8 PEM) and NAME.type."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
    p12, base = job
    key, _, _ = pkcs12.load_key_and_certificates(open(p12, "rb").read(),
                                                 P12_PASSWORD)
    fd = os.open(base + ".key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(base + ".type", "w") as f:
        f.write(type(key).__name__ + "\n")


def prepare(args):
    x509 = _x509()
    data, work = args.data, args.work
    os.makedirs(os.path.join(work, "cases"), exist_ok=True)
    certs = [Cert(x509, p) for p in sorted(glob.glob(data + "/certs/*.crt"))]
    subjects = {c.cert.subject.public_bytes(): c.subject for c in certs}
    crls = [Crl(x509, p, subjects)
            for p in sorted(glob.glob(data + "/crls/*.crl"))]
    byname = {c.name: c for c in certs}
    ta = byname[TA_FILE]
    with open(os.path.join(work, "ta.pem"), "w") as f:
        f.write(pem(ta.der))
    known = {name for _, name, _ in cases()}
    ees = {os.path.basename(p)[:-4]
           for p in glob.glob(data + "/certs/*EE.crt")}
    if known != ees:
        raise SystemExit("pkits.py: the section table does not match the "
                         "data: not in the table %s, no file %s" % (
                             sorted(ees - known), sorted(known - ees)))
    ldif, summary, keyjobs = [], [], []
    for sec, name, expected in cases():
        ee = byname[name]
        chain = chain_for(ee, certs, crls, ta)
        size = sum(len(c.der) for c in chain)
        if size > MAX_CHAIN:
            raise SystemExit("pkits.py: %s: chain of %d bytes" % (name, size))
        summary.append("%s %s %s: %d certificates, %d bytes: %s" % (
            sec, name, expected, len(chain), size,
            " ".join(c.name for c in chain)))
        base = os.path.join(work, "cases", name)
        with open(base + ".pem", "w") as f:
            f.write(pem(ee.der))
            for c in chain:
                f.write(pem(c.der))
        if sec not in SKIP:
            keyjobs.append(("%s/pkcs12/%s.p12" % (data, name), base))
        uid = "pkits-" + sec.replace(".", "-")
        ldif.append("\n".join([
            "dn: uid=%s,%s" % (uid, PEOPLE),
            "objectClass: inetOrgPerson",
            "uid: " + uid,
            "cn: PKITS " + sec,
            "sn: " + name,
            "mail: %s@example.test" % uid,
            "description: " + hashlib.sha256(ee.der).hexdigest(),
            ""]))
    # The keys: about 50 ms each (the PKCS#12 key derivation), so on
    # every CPU.
    with concurrent.futures.ProcessPoolExecutor() as ex:
        list(ex.map(convert_key, keyjobs))
    with open(os.path.join(work, "users.ldif"), "w") as f:
        f.write("\n".join(ldif))
    with open(os.path.join(work, "chains.txt"), "w") as f:
        f.write("\n".join(summary) + "\n")
    with open(os.path.join(work, "crls.conf"), "w") as f:
        for crl in crls:
            f.write('crl "%s" {\n\turl "file://%s"\n\ttype asn1\n}\n' % (
                crl.name, os.path.abspath(crl.path)))
    print("# pkits: %d cases, %d CRL sources, in %s" % (
        len(cases()), len(crls), work))


# --- run -------------------------------------------------------------------

class Refused(Exception):
    pass


class Error(Exception):
    pass


class Session:
    def __init__(self, sock, timeout):
        self.s = sock
        self.buf = b""
        self.deadline = time.monotonic() + timeout

    def _recv(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("case timeout")
        self.s.settimeout(left)
        return self.s.recv(65536)

    def reply(self):
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                d = self._recv()
                if not d:
                    if lines or self.buf:
                        raise Refused("connection closed in a reply: %r" %
                                      (b"\n".join(lines) + self.buf))
                    raise Refused("connection closed")
                self.buf += d
            line, _, self.buf = self.buf.partition(b"\r\n")
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        return "\n".join(lines)

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.reply()


def tls_context(work, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # Security level 0 first: at Debian's default (2) the 1024-bit DSA
    # key and SHA-1 signatures of PKITS cannot even be loaded.
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    base = os.path.join(work, "cases", name)
    ktype = open(base + ".type").read().strip()
    if "DSA" in ktype:
        # TLS 1.3 has no DSA signatures.
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(base + ".pem", base + ".key")
    return ctx


def expect(r, code, what):
    if r.startswith("554"):
        raise Refused(r)
    if not r.startswith(code):
        raise Error("%s: %s" % (what, r))
    return r


def one_case(work, host, port, starttls, name, timeout):
    """("accepted"|"refused"|"error", detail)."""
    try:
        ctx = tls_context(work, name)
    except (ssl.SSLError, OSError) as e:
        return "error", "client cannot load the key: %s" % e
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        return "error", "connect: %s" % e
    sess = Session(raw, timeout)
    stage = "handshake"
    try:
        try:
            if starttls:
                stage = "greeting"
                expect(sess.reply(), "220", "greeting")
                stage = "EHLO"
                expect(sess.cmd("EHLO pkits.example.test"), "250", "EHLO")
                stage = "STARTTLS"
                expect(sess.cmd("STARTTLS"), "220", "STARTTLS")
                if sess.buf:
                    return "error", "data after the STARTTLS reply"
            stage = "handshake"
            raw.settimeout(max(0.1, sess.deadline - time.monotonic()))
            sess.s = ctx.wrap_socket(raw, server_hostname="localhost")
            raw = sess.s
            stage = "greeting over TLS" if not starttls else "EHLO over TLS"
            if not starttls:
                expect(sess.reply(), "220", "greeting")
            expect(sess.cmd("EHLO pkits.example.test"), "250", "EHLO")
            stage = "MAIL FROM"
            r = expect(sess.cmd("MAIL FROM:<pkits@example.test>"), "250",
                       "MAIL FROM")
            try:
                sess.cmd("QUIT")
            except (OSError, Refused, ssl.SSLError):
                pass
            return "accepted", r
        except Refused as e:
            return "refused", "%s: %s" % (stage, e)
        except ssl.SSLError as e:
            # A handshake failure, or (TLS 1.3) the server's alert read
            # after a handshake the client thought complete.
            return "refused", "%s: TLS: %s" % (stage, e)
        except (ConnectionResetError, BrokenPipeError,
                ConnectionAbortedError) as e:
            return "refused", "%s: %s" % (stage, e)
        except socket.timeout as e:
            return "error", "%s: timeout (%s)" % (stage, e)
        except Error as e:
            return "error", str(e)
        except OSError as e:
            return "error", "%s: %s" % (stage, e)
    finally:
        try:
            raw.close()
        except OSError:
            pass


def run(args):
    if (args.implicit is None) == (args.starttls is None):
        raise SystemExit("pkits.py run: give --implicit PORT or --starttls PORT")
    starttls = args.starttls is not None
    port = args.starttls if starttls else args.implicit
    label = "starttls" if starttls else "implicit-tls"
    results = args.results or os.path.join(args.work,
                                           "results-%s.txt" % label)
    todo = select(cases(), args.cases)
    if not todo:
        raise SystemExit("pkits.py: no case matches %r" % args.cases)
    runnable = [c for c in todo if c[0] not in SKIP]
    skipped = [c for c in todo if c[0] in SKIP]
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.threads) as ex:
        futs = [ex.submit(one_case, args.work, args.host, port, starttls,
                          c[1], args.timeout) for c in runnable]
        got = [f.result() for f in futs]
    right = 0
    lines = []
    for (sec, name, want), (outcome, detail) in zip(runnable, got):
        ok = outcome == want
        right += ok
        detail = " ".join(detail.split())
        lines.append("%s %s %s %s expected=%s got=%s: %s" % (
            "ok" if ok else "MISMATCH", label, sec, name, want, outcome,
            detail))
        if not ok:
            print("# MISMATCH %s %s %s: expected %s, got %s: %s" % (
                label, sec, name, want, outcome, detail))
    for sec, name, want in skipped:
        lines.append("skip %s %s %s expected=%s: %s" % (
            label, sec, name, want, SKIP[sec]))
    with open(results, "w") as f:
        f.write("\n".join(lines) + "\n")
    summary = "# PKITS %s: %d/%d cases right" % (label, right, len(runnable))
    if skipped:
        summary += " (skipped: %s)" % " ".join(c[0] for c in skipped)
    summary += " in %.0fs" % (time.monotonic() - start)
    print(summary)
    sys.stdout.flush()
    return 0 if right == len(runnable) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("work")
    p.add_argument("--data", default=DATA)
    p = sub.add_parser("run")
    p.add_argument("work")
    p.add_argument("--implicit", type=int)
    p.add_argument("--starttls", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--cases", default=os.environ.get("PKITS_CASES", ""))
    p.add_argument("--results")
    a = ap.parse_args()
    if a.what == "prepare":
        prepare(a)
        return 0
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
