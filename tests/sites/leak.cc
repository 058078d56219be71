// A C++ target for soak's allocation-site tests: a namespaced cache that never evicts
// (the leak) beside a bounded one, so the top site's frames must name
// cache::Registry::remember through operator new.
#include <chrono>
#include <deque>
#include <string>
#include <thread>
#include <vector>

namespace cache {
class Registry {
  public:
    __attribute__((noinline)) void remember(int i) {
        entries_.push_back(new std::string(4000, static_cast<char>('a' + i % 26)));
    }
    std::vector<std::string *> entries_;
};

class Bounded {
  public:
    __attribute__((noinline)) void touch(int i) {
        recent_.emplace_back(4000, static_cast<char>('a' + i % 26));
        if (recent_.size() > 200) recent_.pop_front();
    }
    std::deque<std::string> recent_;
};
}  // namespace cache

int main() {
    cache::Registry leaky;
    cache::Bounded bounded;
    for (int i = 0;; i++) {
        leaky.remember(i);
        for (int k = 0; k < 5; k++) bounded.touch(i + k);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}
