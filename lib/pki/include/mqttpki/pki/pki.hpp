#pragma once
// Everything in mqttpki::pki.

#include <mqttpki/pki/ca.hpp>
#include <mqttpki/pki/certificate.hpp>
#include <mqttpki/pki/crl.hpp>
#include <mqttpki/pki/csr.hpp>
#include <mqttpki/error.hpp>
#include <mqttpki/pki/key.hpp>
#include <mqttpki/pki/name.hpp>
#include <mqttpki/pki/san.hpp>
#include <mqttpki/pki/types.hpp>
#include <mqttpki/pki/util.hpp>
#include <mqttpki/pki/verify.hpp>
