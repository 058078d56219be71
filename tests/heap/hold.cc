// Holds 100,000 std::string objects made with operator new, then deletes them: C++'s
// new/delete through libstdc++ (which calls malloc) or through tcmalloc's own operators.
#include <vector>
#include <string>
#include <unistd.h>
#include <cstdio>
int main(){ std::vector<std::string*> v; for(int i=0;i<100000;i++) v.push_back(new std::string(200,'x')); sleep(3); for(auto p:v) delete p; puts("done"); }
