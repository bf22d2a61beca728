/*
 * Test-only stand-in for Windows' bcryptprimitives.dll, for running poolsleuth.exe under
 * Debian's Wine 8, which lacks the DLL. Rust's standard library (1.78 and later) takes its
 * random numbers (HashMap keys) from ProcessPrng in this DLL; this one forwards to
 * RtlGenRandom (advapi32's SystemFunction036), which Wine implements. Never shipped: real
 * Windows 10 and later have the DLL.
 *
 * x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll bcryptprimitives.c bcryptprimitives.def -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
