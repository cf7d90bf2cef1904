"""CMS SignedData checked with `cryptography` (the SOD and ICAO master lists are both CMS): the signer's
certificate found in the message, the signed attributes' digest, the signature under RSA PKCS#1 v1.5,
RSA-PSS or ECDSA. asn1crypto parses the structures; it does no cryptography itself.
"""

from __future__ import annotations

import hashlib

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

_HASHES = {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
           "sha512": hashes.SHA512}


class SignatureProblem(ValueError):
    """A CMS signature that does not verify, or cannot be checked; the message says which."""


def digest(algorithm: str, data: bytes) -> bytes:
    if algorithm not in _HASHES:
        raise SignatureProblem(f"hash algorithm {algorithm} is not one ICAO 9303 allows")
    return hashlib.new(algorithm, data).digest()


def _verify(public_key, signature: bytes, data: bytes, algorithm, digest_name: str) -> None:
    kind = algorithm.signature_algo
    try:
        hash_name = algorithm.hash_algo
    except ValueError:  # rsaEncryption alone: the hash is the signer info's digest algorithm
        hash_name = digest_name
    if kind == "rsassa_pss":
        params = algorithm["parameters"]
        chosen = _HASHES[params["hash_algorithm"]["algorithm"].native]()
        pad = padding.PSS(padding.MGF1(_HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]()),
                          params["salt_length"].native)
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise SignatureProblem("an RSA-PSS signature under a key that is not RSA")
        public_key.verify(signature, data, pad, chosen)
    elif kind == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), _HASHES[hash_name]())
    elif kind == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(_HASHES[hash_name]()))
    else:
        raise SignatureProblem(f"signature algorithm {kind} with this key is not supported")


def signer_certificate(signed_data: cms.SignedData, signer: cms.SignerInfo) -> x509.Certificate:
    """The certificate in the message that the signer info names; SignatureProblem if there is none."""
    sid = signer["sid"]
    for choice in signed_data["certificates"] or []:
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            found = (cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native)
        else:
            found = cert.key_identifier == sid.chosen.native
        if found:
            return x509.load_der_x509_certificate(cert.dump())
    raise SignatureProblem("the signer's certificate is not in the signed data")


def verify_signed_data(signed_data: cms.SignedData) -> tuple[bytes, x509.Certificate]:
    """(the signed content, the signer's certificate) once the first signer's signature verifies over it;
    SignatureProblem naming what failed. Says nothing about whether the signer is trusted."""
    content = signed_data["encap_content_info"]["content"]
    if content.native is None:
        raise SignatureProblem("the signed data holds no content")
    body = content.contents if not isinstance(content.native, bytes) else content.native
    if not signed_data["signer_infos"]:
        raise SignatureProblem("the signed data has no signer")
    signer = signed_data["signer_infos"][0]
    certificate = signer_certificate(signed_data, signer)
    digest_name = signer["digest_algorithm"]["algorithm"].native
    attributes = signer["signed_attrs"]
    if attributes.native is not None and len(attributes):
        message_digest = next((a["values"][0].native for a in attributes if a["type"].native == "message_digest"), None)
        if message_digest != digest(digest_name, body):
            raise SignatureProblem("the signed digest does not match the content")
        signed = b"\x31" + attributes.dump()[1:]  # the attributes are signed as a SET, stored [0] IMPLICIT
    else:
        signed = body
    try:
        _verify(certificate.public_key(), signer["signature"].native, signed, signer["signature_algorithm"],
                digest_name)
    except InvalidSignature:
        raise SignatureProblem("the signature does not verify with the signer's certificate") from None
    except (UnsupportedAlgorithm, KeyError) as exc:
        raise SignatureProblem(f"the signature cannot be checked ({exc})") from None
    return body, certificate
