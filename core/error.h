// Two error channels, decided once for the whole code base:
//
//   ENTLAB_CHECK(cond, msg...)  a user mistake (bad shape, bad option, bad file).
//                               Throws entlab::Error; the CLI prints it and exits 1.
//   ENTLAB_ASSERT(cond)         an internal invariant. Prints file:line and calls
//                               abort(), so gdb stops on the faulting line.
//   ENTLAB_DEBUG_ASSERT(cond)   as ENTLAB_ASSERT, compiled away under NDEBUG; for
//                               inner loops.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace entlab {

// A user-facing error: the message names the op, file, key or shape at fault.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail_assert(const char* condition, const char* file, int line);

namespace detail {
inline void append_all(std::ostringstream&) {}
template <typename First, typename... Rest>
void append_all(std::ostringstream& out, const First& first, const Rest&... rest) {
  out << first;
  append_all(out, rest...);
}
}  // namespace detail

// Concatenates the arguments with operator<< into one string.
template <typename... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream out;
  detail::append_all(out, parts...);
  return out.str();
}

}  // namespace entlab

#define ENTLAB_CHECK(cond, ...)                                   \
  do {                                                            \
    if (!(cond)) throw ::entlab::Error(::entlab::str_cat(__VA_ARGS__)); \
  } while (0)

#define ENTLAB_ASSERT(cond)                                           \
  do {                                                                \
    if (!(cond)) ::entlab::fail_assert(#cond, __FILE__, __LINE__);    \
  } while (0)

#ifdef NDEBUG
#define ENTLAB_DEBUG_ASSERT(cond) ((void)0)
#else
#define ENTLAB_DEBUG_ASSERT(cond) ENTLAB_ASSERT(cond)
#endif
