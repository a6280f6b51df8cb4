//===- CudaDriver.h - the CUDA driver, loaded at run time -------*- C++ -*-===//
//
// libllama_cuda's view of the CUDA driver API: libcuda.so.1 opened with
// dlopen on first use, so that llamac, the runtime and every CPU artifact
// build and run on machines without CUDA. Only the calls the generated code
// and the runtime make, declared here with the driver's C types spelled as
// plain integers and pointers (no CUDA headers). One device (0) and its
// primary context, current on every thread that calls in.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_CUDA_CUDADRIVER_H
#define LLAMAC_RUNTIME_CUDA_CUDADRIVER_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace llamart::cuda {

using CUresult = int;
using CUdeviceptr = uint64_t;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUevent = void *;

/// The driver functions llamac's code calls, resolved from libcuda.so.1.
struct DriverAPI {
  CUresult (*moduleLoadData)(CUmodule *, const void *);
  CUresult (*moduleUnload)(CUmodule);
  CUresult (*moduleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*funcSetAttribute)(CUfunction, int, int);
  CUresult (*launchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, unsigned, CUstream, void **,
                           void **);
  CUresult (*streamCreate)(CUstream *, unsigned);
  CUresult (*streamDestroy)(CUstream);
  CUresult (*streamSynchronize)(CUstream);
  CUresult (*streamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*eventCreate)(CUevent *, unsigned);
  CUresult (*eventDestroy)(CUevent);
  CUresult (*eventSynchronize)(CUevent);
  CUresult (*eventRecord)(CUevent, CUstream);
  CUresult (*memAlloc)(CUdeviceptr *, size_t);
  CUresult (*memFree)(CUdeviceptr);
  CUresult (*memAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*memFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*memcpy)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*memcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*memcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*memsetD32)(CUdeviceptr, unsigned, size_t);
  CUresult (*memsetD16)(CUdeviceptr, unsigned short, size_t);
  CUresult (*ctxSynchronize)();
  CUresult (*getErrorString)(CUresult, const char **);
};

/// The driver, ready on this thread (context current), or null with
/// `driverError()` saying why: no libcuda.so.1, no device, a failed init.
const DriverAPI *driver();
/// Why driver() is null, one sentence; empty when it is not.
std::string driverError();

/// Records the first failure of a call made for the generated code (which
/// cannot be told: the mgpu* ABI returns nothing), as "what: the driver's
/// message"; returns whether `result` is success.
bool check(CUresult result, const char *what);
/// The first recorded failure, then clears it (empty: none).
std::string takeError();

} // namespace llamart::cuda

#endif // LLAMAC_RUNTIME_CUDA_CUDADRIVER_H
