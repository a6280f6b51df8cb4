//===- Mgpu.cpp - the mgpu* functions a GPU artifact calls ----------------===//
//
// MLIR's gpu-to-llvm lowering turns gpu.alloc, gpu.launch_func and the
// embedded kernel binaries into calls of these C functions (their
// signatures are those LLVM 22.1.8's lowering emits; upstream implements
// them in CudaRuntimeWrappers.cpp, which Debian does not ship). Here they
// call the driver libllama_cuda loads at run time. They cannot report
// errors to the generated code: a failure is recorded (cuda::check) and the
// runtime reads it after each entry point (cuda::finishLaunches).
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaDriver.h"

#include <cstring>
#include <mutex>
#include <vector>

using namespace llamart::cuda;

namespace {

/// The driver, or null with the reason recorded as a failure of `what`.
const DriverAPI *driverFor(const char *what) {
  const DriverAPI *api = driver();
  if (!api)
    check(/*CUDA_ERROR_NOT_INITIALIZED=*/3, what);
  return api;
}

/// Streams the generated code is done with, for its next mgpuStreamCreate:
/// it creates one per function that launches kernels (gpu-async-region),
/// and creating a stream costs more than a launch.
struct StreamPool {
  std::mutex mutex;
  std::vector<CUstream> idle;
};

StreamPool &streamPool() {
  static StreamPool *pool = new StreamPool; // streams outlive static dtors
  return *pool;
}

} // namespace

extern "C" {

// Modules: the artifact's global constructor loads each embedded binary
// (cubin, or PTX the driver compiles) before the runtime runs anything.
void *mgpuModuleLoad(void *data, size_t /*size*/) {
  CUmodule module = nullptr;
  if (const DriverAPI *api = driverFor("cuModuleLoadData"))
    check(api->moduleLoadData(&module, data), "cuModuleLoadData");
  return module;
}

void *mgpuModuleLoadJIT(void *ptx, int /*optLevel*/) {
  return mgpuModuleLoad(ptx, std::strlen(static_cast<char *>(ptx)));
}

void mgpuModuleUnload(void *module) {
  if (const DriverAPI *api = driver(); api && module)
    check(api->moduleUnload(module), "cuModuleUnload");
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  CUfunction function = nullptr;
  if (const DriverAPI *api = driverFor("cuModuleGetFunction"); api && module)
    check(api->moduleGetFunction(&function, module, name),
          "cuModuleGetFunction");
  return function;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedBytes, void *stream,
                      void **params, void ** /*extra*/, size_t /*count*/) {
  const DriverAPI *api = driverFor("cuLaunchKernel");
  if (!api || !function)
    return;
  // More than 48 KB of dynamic shared memory must be asked for.
  constexpr int kMaxDynamicSharedBytes = 8;
  if (sharedBytes > 48 * 1024 &&
      !check(
          api->funcSetAttribute(function, kMaxDynamicSharedBytes, sharedBytes),
          "cuFuncSetAttribute"))
    return;
  check(api->launchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                          sharedBytes, stream, params, nullptr),
        "cuLaunchKernel");
}

// Streams and events.
void *mgpuStreamCreate() {
  StreamPool &pool = streamPool();
  {
    std::lock_guard<std::mutex> lock(pool.mutex);
    if (!pool.idle.empty()) {
      CUstream stream = pool.idle.back();
      pool.idle.pop_back();
      return stream;
    }
  }
  CUstream stream = nullptr;
  if (const DriverAPI *api = driverFor("cuStreamCreate"))
    // A blocking stream (CU_STREAM_DEFAULT): its kernels wait for the
    // runtime's uploads and memsets on the legacy default stream, whose
    // DMA may still run after cuMemcpyHtoD returns.
    check(api->streamCreate(&stream, /*CU_STREAM_DEFAULT=*/0),
          "cuStreamCreate");
  return stream;
}

// The generated code destroys a stream after synchronizing it: idle, it goes
// back to the pool.
void mgpuStreamDestroy(void *stream) {
  if (!stream)
    return;
  StreamPool &pool = streamPool();
  std::lock_guard<std::mutex> lock(pool.mutex);
  pool.idle.push_back(stream);
}

void mgpuStreamSynchronize(void *stream) {
  if (const DriverAPI *api = driverFor("cuStreamSynchronize"))
    check(api->streamSynchronize(stream), "cuStreamSynchronize");
}

void mgpuStreamWaitEvent(void *stream, void *event) {
  if (const DriverAPI *api = driverFor("cuStreamWaitEvent"))
    check(api->streamWaitEvent(stream, event, 0), "cuStreamWaitEvent");
}

void *mgpuEventCreate() {
  CUevent event = nullptr;
  if (const DriverAPI *api = driverFor("cuEventCreate"))
    check(api->eventCreate(&event, /*CU_EVENT_DISABLE_TIMING=*/2),
          "cuEventCreate");
  return event;
}

void mgpuEventDestroy(void *event) {
  if (const DriverAPI *api = driver(); api && event)
    check(api->eventDestroy(event), "cuEventDestroy");
}

void mgpuEventSynchronize(void *event) {
  if (const DriverAPI *api = driverFor("cuEventSynchronize"))
    check(api->eventSynchronize(event), "cuEventSynchronize");
}

void mgpuEventRecord(void *event, void *stream) {
  if (const DriverAPI *api = driverFor("cuEventRecord"))
    check(api->eventRecord(event, stream), "cuEventRecord");
}

// Memory. gpu-async-region puts the host code's allocations and frees on its
// stream, in order with the kernels: the device's stream-ordered pool, which
// neither blocks the host nor synchronizes the device (cuMemFree does both).
// Without a stream (synchronous gpu ops, which gpu-async-region leaves
// none of): plain allocations.
void *mgpuMemAlloc(uint64_t bytes, void *stream, bool /*hostShared*/) {
  CUdeviceptr pointer = 0;
  const DriverAPI *api = driverFor("cuMemAlloc");
  if (!api || !bytes)
    return nullptr;
  if (stream)
    check(api->memAllocAsync(&pointer, bytes, stream), "cuMemAllocAsync");
  else
    check(api->memAlloc(&pointer, bytes), "cuMemAlloc");
  return reinterpret_cast<void *>(pointer);
}

void mgpuMemFree(void *pointer, void *stream) {
  const DriverAPI *api = driver();
  if (!api || !pointer)
    return;
  auto address = reinterpret_cast<CUdeviceptr>(pointer);
  if (stream)
    check(api->memFreeAsync(address, stream), "cuMemFreeAsync");
  else
    check(api->memFree(address), "cuMemFree");
}

void mgpuMemcpy(void *dst, void *src, size_t bytes, void * /*stream*/) {
  if (const DriverAPI *api = driverFor("cuMemcpy"))
    check(api->memcpy(reinterpret_cast<CUdeviceptr>(dst),
                      reinterpret_cast<CUdeviceptr>(src), bytes),
          "cuMemcpy");
}

void mgpuMemset32(void *dst, uint32_t value, size_t count, void * /*stream*/) {
  if (const DriverAPI *api = driverFor("cuMemsetD32"))
    check(api->memsetD32(reinterpret_cast<CUdeviceptr>(dst), value, count),
          "cuMemsetD32");
}

void mgpuMemset16(void *dst, uint16_t value, size_t count, void * /*stream*/) {
  if (const DriverAPI *api = driverFor("cuMemsetD16"))
    check(api->memsetD16(reinterpret_cast<CUdeviceptr>(dst), value, count),
          "cuMemsetD16");
}

void mgpuSetDefaultDevice(int32_t /*device*/) {} // always device 0

} // extern "C"
