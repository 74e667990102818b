#pragma once
// The error type lives in the core module (<mqttpki/error.hpp>); this header remains for the files that still
// include it by its old name.
#include <mqttpki/error.hpp>
