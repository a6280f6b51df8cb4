//===- CudaDriver.cpp - the CUDA driver, loaded at run time ---------------===//

#include "runtime/cuda/CudaDriver.h"

#include <dlfcn.h>

#include <mutex>

namespace llamart::cuda {
namespace {

using CUdevice = int;
using CUcontext = void *;
using CUmemoryPool = void *;

struct Loaded {
  DriverAPI api{};
  CUcontext context = nullptr;
  CUresult (*setCurrent)(CUcontext) = nullptr;
  std::string error; // why the driver is unusable (empty: it is usable)
};

/// dlsym of `name` into `fn`; false (and `error` set) when it is missing.
template <typename Fn>
bool resolve(void *library, const char *name, Fn &fn, std::string &error) {
  fn = reinterpret_cast<Fn>(dlsym(library, name));
  if (!fn && error.empty())
    error = std::string("libcuda.so.1 lacks ") + name;
  return fn != nullptr;
}

Loaded load() {
  Loaded loaded;
  std::string &error = loaded.error;
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    error = "no CUDA driver (" + std::string(dlerror()) + ")";
    return loaded;
  }
  DriverAPI &api = loaded.api;
  CUresult (*init)(unsigned) = nullptr;
  CUresult (*deviceGet)(CUdevice *, int) = nullptr;
  CUresult (*primaryCtxRetain)(CUcontext *, CUdevice) = nullptr;
  CUresult (*defaultMemPool)(CUmemoryPool *, CUdevice) = nullptr;
  CUresult (*memPoolSetAttribute)(CUmemoryPool, int, void *) = nullptr;
  // The versioned names are those of CUDA 12 and 13's headers.
  bool ok =
      resolve(library, "cuInit", init, error) &&
      resolve(library, "cuDeviceGet", deviceGet, error) &&
      resolve(library, "cuDevicePrimaryCtxRetain", primaryCtxRetain, error) &&
      resolve(library, "cuCtxSetCurrent", loaded.setCurrent, error) &&
      resolve(library, "cuModuleLoadData", api.moduleLoadData, error) &&
      resolve(library, "cuModuleUnload", api.moduleUnload, error) &&
      resolve(library, "cuModuleGetFunction", api.moduleGetFunction, error) &&
      resolve(library, "cuFuncSetAttribute", api.funcSetAttribute, error) &&
      resolve(library, "cuLaunchKernel", api.launchKernel, error) &&
      resolve(library, "cuStreamCreate", api.streamCreate, error) &&
      resolve(library, "cuStreamDestroy_v2", api.streamDestroy, error) &&
      resolve(library, "cuStreamSynchronize", api.streamSynchronize, error) &&
      resolve(library, "cuStreamWaitEvent", api.streamWaitEvent, error) &&
      resolve(library, "cuEventCreate", api.eventCreate, error) &&
      resolve(library, "cuEventDestroy_v2", api.eventDestroy, error) &&
      resolve(library, "cuEventSynchronize", api.eventSynchronize, error) &&
      resolve(library, "cuEventRecord", api.eventRecord, error) &&
      resolve(library, "cuMemAlloc_v2", api.memAlloc, error) &&
      resolve(library, "cuMemFree_v2", api.memFree, error) &&
      resolve(library, "cuMemAllocAsync", api.memAllocAsync, error) &&
      resolve(library, "cuMemFreeAsync", api.memFreeAsync, error) &&
      resolve(library, "cuDeviceGetDefaultMemPool", defaultMemPool, error) &&
      resolve(library, "cuMemPoolSetAttribute", memPoolSetAttribute, error) &&
      resolve(library, "cuMemcpy", api.memcpy, error) &&
      resolve(library, "cuMemcpyHtoD_v2", api.memcpyHtoD, error) &&
      resolve(library, "cuMemcpyDtoH_v2", api.memcpyDtoH, error) &&
      resolve(library, "cuMemsetD32_v2", api.memsetD32, error) &&
      resolve(library, "cuMemsetD16_v2", api.memsetD16, error) &&
      resolve(library, "cuCtxSynchronize", api.ctxSynchronize, error) &&
      resolve(library, "cuGetErrorString", api.getErrorString, error);
  if (!ok)
    return loaded;
  auto failed = [&](CUresult result, const char *what) {
    if (result == 0)
      return false;
    const char *message = nullptr;
    api.getErrorString(result, &message);
    error = std::string(what) + " failed: " +
            (message ? message : "error " + std::to_string(result));
    return true;
  };
  CUdevice device = 0;
  if (failed(init(0), "cuInit") ||
      failed(deviceGet(&device, 0), "cuDeviceGet") ||
      failed(primaryCtxRetain(&loaded.context, device),
             "cuDevicePrimaryCtxRetain"))
    return loaded;
  // The kernels' temporaries come from the device's stream-ordered pool
  // (cuMemAllocAsync); by default it returns its memory to the OS at every
  // synchronization, so each entry point would map it again.
  CUmemoryPool pool = nullptr;
  uint64_t keepAll = UINT64_MAX;
  constexpr int kReleaseThreshold = 4; // CU_MEMPOOL_ATTR_RELEASE_THRESHOLD
  if (!failed(defaultMemPool(&pool, device), "cuDeviceGetDefaultMemPool"))
    failed(memPoolSetAttribute(pool, kReleaseThreshold, &keepAll),
           "cuMemPoolSetAttribute");
  return loaded;
}

const Loaded &loaded() {
  static const Loaded instance = load();
  return instance;
}

std::mutex errorMutex;
std::string firstError;

} // namespace

const DriverAPI *driver() {
  const Loaded &state = loaded();
  if (!state.error.empty())
    return nullptr;
  // The primary context, current on this thread (once per thread).
  thread_local bool current = false;
  if (!current) {
    if (!check(state.setCurrent(state.context), "cuCtxSetCurrent"))
      return nullptr;
    current = true;
  }
  return &state.api;
}

std::string driverError() { return loaded().error; }

bool check(CUresult result, const char *what) {
  if (result == 0)
    return true;
  const char *message = nullptr;
  if (const DriverAPI *api = &loaded().api; api->getErrorString)
    api->getErrorString(result, &message);
  std::lock_guard<std::mutex> lock(errorMutex);
  if (firstError.empty())
    firstError = std::string(what) + " failed: " +
                 (message ? message : "error " + std::to_string(result));
  return false;
}

std::string takeError() {
  std::lock_guard<std::mutex> lock(errorMutex);
  std::string error;
  error.swap(firstError);
  return error;
}

} // namespace llamart::cuda
