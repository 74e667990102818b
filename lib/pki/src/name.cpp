#include <mqttpki/pki/name.hpp>

#include "ossl.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>

namespace mqttpki::pki {

using detail::Access;

namespace {

std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;  // control characters have no place in a name
      n = 0;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      n = 1;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      n = 3;
    } else {
      return false;
    }
    if (n != 0 && i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

struct Attr {
  std::string key;  // OpenSSL short name
  std::string value;
};

void validate(const Attr& a) {
  auto bad = [&](const std::string& why) {
    return Error(Errc::invalid_argument, "invalid subject " + a.key + "=\"" + a.value + "\": " + why);
  };
  if (a.value.empty()) throw bad("empty value");
  if (!valid_utf8(a.value)) throw bad("not valid UTF-8 text (control characters are not allowed)");
  if (a.key == "C") {
    if (a.value.size() != 2 || std::isalpha(static_cast<unsigned char>(a.value[0])) == 0 ||
        std::isalpha(static_cast<unsigned char>(a.value[1])) == 0) {
      throw bad("the country must be 2 letters, e.g. C=DE");
    }
    return;
  }
  std::size_t limit = (a.key == "L" || a.key == "ST") ? 128 : 64;
  if (utf8_length(a.value) > limit) throw bad("longer than " + std::to_string(limit) + " characters");
}

Name encode(std::vector<Attr> attrs) {
  bool has_cn = std::any_of(attrs.begin(), attrs.end(), [](const Attr& a) { return a.key == "CN"; });
  if (!has_cn) throw Error(Errc::invalid_argument, "the subject needs a CN, e.g. CN=pi1,O=Home");
  ossl::X509NamePtr name(ossl::check_ptr(X509_NAME_new(), "X509_NAME_new"));
  for (auto& a : attrs) {
    if (a.key == "C") {
      std::transform(a.value.begin(), a.value.end(), a.value.begin(),
                     [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
    }
    validate(a);
    if (X509_NAME_add_entry_by_txt(name.get(), a.key.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(a.value.data()),
                                   static_cast<int>(a.value.size()), -1, 0) != 1) {
      throw ossl::openssl_error(("subject " + a.key + "=" + a.value).c_str(), Errc::invalid_argument);
    }
  }
  return Access::make_name(name.get());
}

}  // namespace

Name::Name() : der_{0x30, 0x00} {}  // SEQUENCE {}

Name Name::build(std::string_view common_name, std::string_view organization, std::string_view country) {
  std::vector<Attr> attrs;
  if (!country.empty()) attrs.push_back({"C", std::string(country)});
  if (!organization.empty()) attrs.push_back({"O", std::string(organization)});
  if (common_name.empty()) throw Error(Errc::invalid_argument, "the subject needs a non-empty CN");
  attrs.push_back({"CN", std::string(common_name)});
  return encode(std::move(attrs));
}

Name Name::parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error(Errc::invalid_argument,
                 "invalid subject \"" + std::string(text) + "\": " + why + " (e.g. CN=pi1,O=Home,C=DE)");
  };
  std::vector<std::string> parts;
  std::string cur;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      cur += text[++i];
    } else if (c == ',') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  auto trim = [](std::string s) {
    auto not_space = [](char ch) { return std::isspace(static_cast<unsigned char>(ch)) == 0; };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
    s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
    return s;
  };
  std::vector<Attr> attrs;
  for (const auto& part : parts) {
    auto eq = part.find('=');
    if (eq == std::string::npos) throw bad("\"" + trim(part) + "\" is not KEY=value");
    std::string key = trim(part.substr(0, eq));
    std::string value = trim(part.substr(eq + 1));
    std::transform(key.begin(), key.end(), key.begin(),
                   [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
    if (key != "CN" && key != "O" && key != "OU" && key != "C" && key != "L" && key != "ST") {
      throw bad("unknown attribute \"" + key + "\" (accepted: CN, O, OU, C, L, ST)");
    }
    attrs.push_back({key, value});
  }
  std::reverse(attrs.begin(), attrs.end());  // RFC 4514 text is most specific first
  return encode(std::move(attrs));
}

Name Name::from_der(ByteView der) {
  const unsigned char* p = der.data();
  ossl::X509NamePtr name(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  if (!name || p != der.data() + der.size()) {
    ERR_clear_error();
    throw Error(Errc::bad_format, "damaged distinguished name (DER does not parse)");
  }
  return Access::make_name(name.get());
}

bool Name::empty() const { return X509_NAME_entry_count(Access::x509_name(*this).get()) == 0; }

namespace {
// OpenSSL reads a T61String as Latin-1, but many tools put UTF-8 in it: bytes that are valid UTF-8 with one over
// 0x7F are taken as UTF-8 (Latin-1 text almost never is), so "Zürich" is not printed as "ZÃ¼rich".
std::optional<std::string_view> t61_utf8(const ASN1_STRING* s) {
  if (ASN1_STRING_type(s) != V_ASN1_T61STRING) return std::nullopt;
  const std::string_view v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<std::size_t>(ASN1_STRING_length(s)));
  const bool high = std::any_of(v.begin(), v.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  if (!high || !valid_utf8(v)) return std::nullopt;
  return v;
}

// A copy of name whose T61Strings that hold UTF-8 are UTF8Strings, for printing; null when there are none.
ossl::X509NamePtr with_t61_as_utf8(const X509_NAME* name) {
  ossl::X509NamePtr copy;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const auto text = t61_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (!text) continue;
    if (!copy) copy.reset(X509_NAME_dup(name));
    if (!copy || X509_NAME_ENTRY_set_data(X509_NAME_get_entry(copy.get(), i), MBSTRING_UTF8,
                                          reinterpret_cast<const unsigned char*>(text->data()),
                                          static_cast<int>(text->size())) != 1)
      throw ossl::openssl_error("X509_NAME_ENTRY_set_data");
  }
  return copy;
}
}  // namespace

std::string Name::to_string() const {
  auto owned = Access::x509_name(*this);
  const auto utf8 = with_t61_as_utf8(owned.get());
  const X509_NAME* name = utf8 ? utf8.get() : owned.get();
  auto bio = ossl::new_mem_bio();
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    throw ossl::openssl_error("X509_NAME_print_ex");
  }
  return ossl::bio_to_string(bio.get());
}

std::vector<NameEntry> Name::entries() const {
  auto name = Access::x509_name(*this);
  std::vector<NameEntry> out;
  for (int i = 0; i < X509_NAME_entry_count(name.get()); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name.get(), i);
    if (const auto text = t61_utf8(X509_NAME_ENTRY_get_data(e))) {
      out.push_back({ossl::object_name(X509_NAME_ENTRY_get_object(e)), std::string(*text)});
      continue;
    }
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    const ossl::OpensslBytesPtr owner(utf8);
    std::string value;
    if (len >= 0) {
      value.assign(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
    } else {
      ERR_clear_error();
      value = "<undecodable>";
    }
    out.push_back({ossl::object_name(X509_NAME_ENTRY_get_object(e)), std::move(value)});
  }
  return out;
}

namespace {
std::optional<std::string> first_of(const Name& n, std::string_view key) {
  for (auto& e : n.entries()) {
    if (e.key == key) return e.value;
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> Name::common_name() const { return first_of(*this, "CN"); }
std::optional<std::string> Name::organization() const { return first_of(*this, "O"); }
std::optional<std::string> Name::country() const { return first_of(*this, "C"); }

bool operator==(const Name& a, const Name& b) {
  if (a.der() == b.der()) return true;
  auto x = Access::x509_name(a);
  auto y = Access::x509_name(b);
  return X509_NAME_cmp(x.get(), y.get()) == 0;
}

}  // namespace mqttpki::pki
