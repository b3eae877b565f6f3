#include "runtime/blocking_pool.hpp"

namespace tern::runtime {

unsigned blocking_pool_size() { return 64; }

}  // namespace tern::runtime
