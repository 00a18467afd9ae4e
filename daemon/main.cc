// tollgated entry point (being built up; see README).
int main() { return 0; }
