#include <mqttpki/pki/csr.hpp>

#include "ossl.hpp"
#include "pem.hpp"

#include <openssl/pem.h>

#include <algorithm>

namespace mqttpki::pki {

using detail::Access;

namespace {

// d2i_X509_REQ over the whole input (trailing bytes refused); null if it is not a request.
ossl::X509ReqPtr parse_der(ByteView der) {
  const unsigned char* p = der.data();
  ossl::X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req || p != der.data() + der.size()) {
    ERR_clear_error();
    return nullptr;
  }
  return req;
}

Csr make_csr(ossl::X509ReqPtr req) {
  return Access::make_csr(std::make_shared<const Access::CsrImpl>(Access::CsrImpl{std::move(req)}));
}

// The extensionRequest attribute; null if absent or damaged.
ossl::ExtensionStackPtr extensions_of(const X509_REQ* req) {
  ossl::ExtensionStackPtr exts(X509_REQ_get_extensions(const_cast<X509_REQ*>(req)));
  ERR_clear_error();
  return exts;
}

}  // namespace

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
    ossl::X509ExtensionPtr ext(
        ossl::check_ptr(X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()), "X509V3_EXT_i2d"));
    ossl::check(sk_X509_EXTENSION_push(exts.get(), ext.get()) > 0, "sk_X509_EXTENSION_push");
    ext.release();  // owned by the stack now
    ossl::check(X509_REQ_add_extensions(req.get(), exts.get()) == 1, "X509_REQ_add_extensions");
  }
  if (X509_REQ_sign(req.get(), pkey, ossl::digest_for(pkey)) <= 0) throw ossl::openssl_error("X509_REQ_sign");
  return make_csr(std::move(req));
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
    der = std::move(it->der);
  } else {
    der.assign(data.begin(), data.end());
  }
  auto req = parse_der(der);
  if (!req) {
    if (from_pem) throw Error(Errc::bad_format, "truncated or damaged PEM (the certificate request does not parse)");
    pem::throw_expected(expected, pem::describe_input(data));
  }
  return make_csr(std::move(req));
}

std::string Csr::to_pem() const {
  auto bio = ossl::new_mem_bio();
  ossl::check(PEM_write_bio_X509_REQ(bio.get(), impl_->req.get()) == 1, "PEM_write_bio_X509_REQ");
  return ossl::bio_to_string(bio.get());
}

Bytes Csr::to_der() const { return ossl::i2d_bytes(i2d_X509_REQ, impl_->req.get(), "i2d_X509_REQ"); }

bool Csr::signature_valid() const {
  X509_REQ* req = impl_->req.get();
  EVP_PKEY* key = X509_REQ_get0_pubkey(req);
  const bool ok = key != nullptr && X509_REQ_verify(req, key) == 1;
  ERR_clear_error();
  return ok;
}

void Csr::verify_signature() const {
  if (!signature_valid()) {
    throw Error(Errc::verify_failed, "the CSR's signature does not verify (the request is damaged or was altered)");
  }
}

Name Csr::subject() const { return Access::make_name(X509_REQ_get_subject_name(impl_->req.get())); }

PublicKey Csr::public_key() const {
  EVP_PKEY* key = X509_REQ_get0_pubkey(impl_->req.get());
  if (key == nullptr) {
    ERR_clear_error();
    throw Error(Errc::bad_format, "the CSR's public key: unsupported or damaged key");
  }
  return Access::make_public_ref(key);
}

std::vector<GeneralName> Csr::sans() const {
  const auto exts = extensions_of(impl_->req.get());
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
  const auto exts = extensions_of(impl_->req.get());
  std::vector<std::string> out;
  if (!exts) return out;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    out.push_back(ossl::object_name(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts.get(), i))));
  }
  return out;
}

}  // namespace mqttpki::pki
