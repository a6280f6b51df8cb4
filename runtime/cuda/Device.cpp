//===- Device.cpp - device memory for the runtime -------------------------===//

#include "runtime/cuda/Device.h"

#include "runtime/Error.h"
#include "runtime/cuda/CudaDriver.h"

namespace llamart::cuda {
namespace {

/// The driver, or RuntimeError naming `what` needed it.
const DriverAPI &api(const char *what) {
  const DriverAPI *driverAPI = driver();
  if (!driverAPI)
    throw RuntimeError(std::string(what) + ": " + driverError());
  return *driverAPI;
}

/// Throws the first recorded failure, if any.
void throwRecorded(const std::string &context) {
  std::string error = takeError();
  if (!error.empty())
    throw RuntimeError(context + ": " + error);
}

} // namespace

void requireDevice(const std::string &artifact) {
  if (!driver())
    throw RuntimeError("'" + artifact +
                       "' runs on an NVIDIA GPU (llamac --target=nvidia), "
                       "and this machine cannot run it: " +
                       driverError());
}

DeviceBuffer::DeviceBuffer(size_t bytes) : size(bytes) {
  CUdeviceptr device = 0;
  if (bytes &&
      !check(api("device memory").memAlloc(&device, bytes), "cuMemAlloc"))
    throwRecorded("allocating " + std::to_string(bytes) +
                  " bytes of device memory");
  pointer = reinterpret_cast<void *>(device);
}

DeviceBuffer::~DeviceBuffer() {
  if (const DriverAPI *driverAPI = driver(); driverAPI && pointer)
    driverAPI->memFree(reinterpret_cast<CUdeviceptr>(pointer));
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other) noexcept
    : pointer(other.pointer), size(other.size) {
  other.pointer = nullptr;
  other.size = 0;
}

void DeviceBuffer::upload(const void *host, size_t bytes) {
  if (bytes > size)
    throw RuntimeError("uploading " + std::to_string(bytes) +
                       " bytes into a device buffer of " +
                       std::to_string(size));
  if (!check(api("upload").memcpyHtoD(reinterpret_cast<CUdeviceptr>(pointer),
                                      host, bytes),
             "cuMemcpyHtoD"))
    throwRecorded("copying to the device");
}

void DeviceBuffer::download(void *host, size_t bytes) const {
  if (bytes > size)
    throw RuntimeError("downloading " + std::to_string(bytes) +
                       " bytes from a device buffer of " +
                       std::to_string(size));
  if (!check(
          api("download")
              .memcpyDtoH(host, reinterpret_cast<CUdeviceptr>(pointer), bytes),
          "cuMemcpyDtoH"))
    throwRecorded("copying from the device");
}

void DeviceBuffer::zero() {
  if (size && !check(api("zero").memsetD32(
                         reinterpret_cast<CUdeviceptr>(pointer), 0, size / 4),
                     "cuMemsetD32"))
    throwRecorded("zeroing device memory");
}

void finishLaunches(const std::string &entry) {
  check(api(entry.c_str()).ctxSynchronize(), "cuCtxSynchronize");
  throwRecorded(entry);
}

} // namespace llamart::cuda
