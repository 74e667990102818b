#include <mqttpki/pki/csr.hpp>

#include "ossl.hpp"
#include "pem.hpp"

#include <openssl/pem.h>

#include <algorithm>

namespace mqttpki::pki {

using detail::Access;

Csr::Csr(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Csr Csr::create(const PrivateKey& key, const Name& subject, const std::vector<GeneralName>& sans) {
  EVP_PKEY* pkey = Access::pkey(key);
  ossl::X509ReqPtr req(ossl::check_ptr(X509_REQ_new(), "X509_REQ_new"));
  ossl::check(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) == 1, "X509_REQ_set_version");
  auto name = Access::x509_name(subject);
  ossl::check(X509_REQ_set_subject_name(req.get(), name.get()) == 1, "X509_REQ_set_subject_name");
  ossl::check(X509_REQ_set_pubkey(req.get(), pkey) == 1, "X509_REQ_set_pubkey");
  if (!sans.empty()) {
    auto names = ossl::to_general_names(sans);
    ossl::ExtensionStackPtr exts(ossl::check_ptr(sk_X509_EXTENSION_new_null(), "sk_X509_EXTENSION_new_null"));
    X509_EXTENSION* ext = ossl::check_ptr(X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()), "X509V3_EXT_i2d");
    if (sk_X509_EXTENSION_push(exts.get(), ext) <= 0) {
      X509_EXTENSION_free(ext);
      throw ossl::openssl_error("sk_X509_EXTENSION_push");
    }
    ossl::check(X509_REQ_add_extensions(req.get(), exts.get()) == 1, "X509_REQ_add_extensions");
  }
  if (X509_REQ_sign(req.get(), pkey, ossl::digest_for(pkey)) <= 0) throw ossl::openssl_error("X509_REQ_sign");
  return Access::make_csr(std::move(req));
}

Csr Csr::load(ByteView data) {
  constexpr std::string_view expected = "a certificate request (PEM 'BEGIN CERTIFICATE REQUEST' or DER)";
  Bytes der;
  bool from_pem = pem::looks_like_pem(data);
  if (from_pem) {
    auto blocks = pem::read_blocks(data);
    auto it = std::find_if(blocks.begin(), blocks.end(), [](const pem::Block& b) {
      return pem::kind_of_label(b.label, false) == ObjectKind::certificate_request;
    });
    if (it == blocks.end()) pem::throw_expected(expected, pem::describe_input(data));
    der = it->der;
  } else {
    der.assign(data.begin(), data.end());
  }
  const unsigned char* p = der.data();
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()));
  if (req == nullptr || p != der.data() + der.size()) {
    X509_REQ_free(req);
    ERR_clear_error();
    if (from_pem) throw Error(Errc::bad_format, "truncated or damaged PEM (the certificate request does not parse)");
    pem::throw_expected(expected, pem::describe_input(data));
  }
  return Access::make_csr(ossl::X509ReqPtr(req));
}

std::string Csr::to_pem() const {
  auto bio = ossl::new_mem_bio();
  ossl::check(PEM_write_bio_X509_REQ(bio.get(), Access::req(*this)) == 1, "PEM_write_bio_X509_REQ");
  return ossl::bio_to_string(bio.get());
}

Bytes Csr::to_der() const {
  return ossl::i2d_bytes(i2d_X509_REQ, Access::req(*this), "i2d_X509_REQ");
}

bool Csr::signature_valid() const {
  X509_REQ* req = Access::req(*this);
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req);
  bool ok = pub != nullptr && X509_REQ_verify(req, pub) == 1;
  ERR_clear_error();
  return ok;
}

void Csr::verify_signature() const {
  if (!signature_valid()) {
    throw Error(Errc::verify_failed, "the CSR's signature does not verify (the request is damaged or was altered)");
  }
}

Name Csr::subject() const { return Access::make_name(X509_REQ_get_subject_name(Access::req(*this))); }

PublicKey Csr::public_key() const {
  EVP_PKEY* pub = X509_REQ_get0_pubkey(Access::req(*this));
  if (pub == nullptr) throw ossl::openssl_error("the CSR's public key", Errc::bad_format);
  return Access::make_public_ref(pub);
}

namespace {
ossl::ExtensionStackPtr extensions_of(X509_REQ* req) {
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  ERR_clear_error();
  return ossl::ExtensionStackPtr(exts);
}
}  // namespace

std::vector<GeneralName> Csr::sans() const {
  auto exts = extensions_of(Access::req(*this));
  if (!exts) return {};
  auto* names = static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) {
    ERR_clear_error();
    return {};
  }
  ossl::GeneralNamesPtr owner(names);
  return ossl::from_general_names(names);
}

std::vector<std::string> Csr::requested_extensions() const {
  auto exts = extensions_of(Access::req(*this));
  std::vector<std::string> out;
  if (!exts) return out;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    out.push_back(ossl::object_name(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts.get(), i))));
  }
  return out;
}

}  // namespace mqttpki::pki
