//===- Device.h - device memory for the runtime -----------------*- C++ -*-===//
//
// What the runtime needs to run a GPU artifact (llamac --target=nvidia):
// the driver or one clear error, device buffers for the weights, caches,
// tokens and logits it passes the entry points, and the errors of the
// kernels an entry point launched. Part of libllama_cuda, which GPU
// artifacts link for the mgpu* functions.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_CUDA_DEVICE_H
#define LLAMAC_RUNTIME_CUDA_DEVICE_H

#include <cstddef>
#include <string>

namespace llamart::cuda {

/// Throws RuntimeError when this machine cannot run `artifact`'s kernels
/// (no CUDA driver, no GPU), saying why.
void requireDevice(const std::string &artifact);

/// `bytes` of device memory, freed with the buffer.
class DeviceBuffer {
public:
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(DeviceBuffer &&) = delete;

  void *data() const { return pointer; }
  void upload(const void *host, size_t bytes);
  void download(void *host, size_t bytes) const;
  void zero();

private:
  void *pointer = nullptr;
  size_t size = 0;
};

/// Waits for the kernels `entry` launched; throws RuntimeError with the
/// first failure the driver reported since the last call, if any.
void finishLaunches(const std::string &entry);

} // namespace llamart::cuda

#endif // LLAMAC_RUNTIME_CUDA_DEVICE_H
