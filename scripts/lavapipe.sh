#!/usr/bin/env bash
# Sets up a software Vulkan device (Mesa's lavapipe) that Dawn, and so the `webgpu` package, can
# use on a machine without a GPU, and prints the path of its Vulkan ICD file for VK_ICD_FILENAMES.
# Debian 12's own Mesa (22.3) lacks a Vulkan feature Dawn requires (shaderUniform*ArrayDynamicIndexing),
# so on bookworm the driver comes from bookworm-backports (Mesa 25), unpacked into a folder of its
# own (nothing installed system-wide but the Vulkan loader and the driver's Debian dependencies).
# With Mesa 23 or newer installed (Debian 13, Ubuntu 24.04), the system's lavapipe is used as it is.
# Needs root and apt-get; exits non-zero with a message when it cannot set the device up.
set -euo pipefail
dest="${LAVAPIPE_DIR:-/var/cache/minigpt-lavapipe}"
export DEBIAN_FRONTEND=noninteractive

apt-get install -y -qq libvulkan1 >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libvulkan1 >/dev/null; }

mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
if [ -n "$mesa" ] && dpkg --compare-versions "$mesa" ge 23; then
  ls /usr/share/vulkan/icd.d/lvp_icd*.json | head -1
  exit 0
fi
if [ -f "$dest/lvp_icd.json" ]; then echo "$dest/lvp_icd.json"; exit 0; fi

. /etc/os-release
if [ "${VERSION_CODENAME:-}" != bookworm ]; then
  echo "lavapipe.sh: install mesa-vulkan-drivers (Mesa 23 or newer) from your distribution" >&2
  exit 1
fi
mkdir -p "$dest"
list="$dest/backports.list"
echo 'deb http://deb.debian.org/debian bookworm-backports main' >"$list"
apt_opts=(-o "Dir::Etc::sourcelist=$list" -o "Dir::Etc::sourceparts=-" -o "APT::Get::List-Cleanup=0")
apt-get "${apt_opts[@]}" update -qq
# The driver's own dependencies, from bookworm itself.
apt-get install -y -qq libllvm15 libelf1 libexpat1 libzstd1 libdrm2 libdrm-amdgpu1 libwayland-client0 libx11-xcb1 \
  libxcb-dri3-0 libxcb-present0 libxcb-randr0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxshmfence1 >/dev/null
(cd "$dest" && apt-get "${apt_opts[@]}" download -qq mesa-vulkan-drivers/bookworm-backports 2>/dev/null)
dpkg -x "$dest"/mesa-vulkan-drivers_*.deb "$dest/root"
lib="$dest/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"
[ -f "$lib" ] || lib=$(find "$dest/root" -name libvulkan_lvp.so | head -1)
sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$lib\"#" "$dest"/root/usr/share/vulkan/icd.d/lvp_icd*.json >"$dest/lvp_icd.json"
echo "$dest/lvp_icd.json"
