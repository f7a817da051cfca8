/* Wine 8 (Debian 12) lacks bcryptprimitives.dll, which every Windows 10/11 has and Rust's standard
 * library imports for ProcessPrng. The installer check puts this stand-in into the Wine prefix
 * only; it is never shipped. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    return BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}
