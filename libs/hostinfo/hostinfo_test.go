package hostinfo

import (
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
)

const (
	id    = "3f1c2b4a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708"
	layer = "9e8d7c6b5a4938271605f4e3d2c1b0a99e8d7c6b5a4938271605f4e3d2c1b0a9"
)

func TestContainerIDFromCgroup(t *testing.T) {
	for _, c := range []struct {
		name, text, want string
	}{
		{"docker cgroup v1", "12:pids:/docker/" + id + "\n11:memory:/docker/" + id + "\n1:name=systemd:/docker/" + id + "\n0::/system.slice/containerd.service\n", id},
		{"docker systemd driver", "0::/system.slice/docker-" + id + ".scope\n", id},
		{"kubepods cgroup v1", "11:cpuset:/kubepods/burstable/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/" + id + "\n", id},
		{"kubepods containerd systemd", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-" + id + ".scope\n", id},
		{"kubepods cri-o", "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e.slice/crio-" + id + ".scope\n", id},
		{"podman", "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope/container\n", id},
		{"nested: the deepest", "0::/docker/" + layer + "/docker/" + id + "\n", id},
		{"host, systemd session", "0::/user.slice/user-1000.slice/session-2.scope\n", ""},
		{"host, cgroup v1", "12:pids:/user.slice\n1:name=systemd:/init.scope\n", ""},
		{"cgroup v2, private namespace", "0::/\n", ""},
		{"63 hex digits", "0::/docker/" + id[1:] + "\n", ""},
		{"upper-case hex", "0::/docker/" + strings.ToUpper(id) + "\n", ""},
		{"empty", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := containerIDFromCgroup(c.text); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestContainerIDFromMountinfo(t *testing.T) {
	overlay := "1021 1003 0:66 / / rw,relatime master:567 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABCDEF:/var/lib/docker/overlay2/l/GHIJK,upperdir=/var/lib/docker/overlay2/" + layer + "/diff,workdir=/var/lib/docker/overlay2/" + layer + "/work\n"
	cgroup2 := "1027 1021 0:70 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate\n"
	for _, c := range []struct {
		name, text, want string
	}{
		{"docker cgroup v2", overlay + cgroup2 +
			"1037 1021 254:1 /var/lib/docker/containers/" + id + "/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda1 rw\n" +
			"1038 1021 254:1 /var/lib/docker/containers/" + id + "/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw\n", id},
		{"podman", overlay + "1040 1021 0:50 /containers/storage/overlay-containers/" + id + "/userdata/hostname /etc/hostname rw,nosuid,nodev - tmpfs tmpfs rw\n", id},
		{"cgroup v1 mount rooted in the container's cgroup", overlay +
			"1030 1029 0:31 /docker/" + id + " /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:15 - cgroup cgroup rw,memory\n", id},
		{"a layer in the overlay options is not the container", overlay + cgroup2, ""},
		{"host", "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n" +
			"25 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n", ""},
		{"short line", "1 2 3\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := containerIDFromMountinfo(c.text); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestFirstIPv4(t *testing.T) {
	cidr := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	up := net.FlagUp | net.FlagBroadcast
	lo := iface{flags: net.FlagUp | net.FlagLoopback, addrs: []net.Addr{cidr("127.0.0.1/8"), cidr("::1/128")}}
	for _, c := range []struct {
		name string
		ifs  []iface
		want string
	}{
		{"eth0 after lo", []iface{lo, {flags: up, addrs: []net.Addr{cidr("fe80::1/64"), cidr("10.0.3.7/24")}}}, "10.0.3.7"},
		{"a down interface is skipped", []iface{lo, {flags: net.FlagBroadcast, addrs: []net.Addr{cidr("10.0.0.1/24")}}, {flags: up, addrs: []net.Addr{cidr("192.168.1.20/24")}}}, "192.168.1.20"},
		{"link-local is skipped", []iface{{flags: up, addrs: []net.Addr{cidr("169.254.3.4/16")}}, {flags: up, addrs: []net.Addr{&net.IPAddr{IP: net.ParseIP("172.17.0.2")}}}}, "172.17.0.2"},
		{"IPv6 only", []iface{lo, {flags: up, addrs: []net.Addr{cidr("2001:db8::5/64")}}}, ""},
		{"loopback only", []iface{lo}, ""},
		{"none", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := firstIPv4(c.ifs); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// Get describes this process: its pid and host name, and a container
// name only with a container id.
func TestGet(t *testing.T) {
	in := Get()
	host, _ := os.Hostname()
	if in.PID != os.Getpid() || in.Hostname != host {
		t.Errorf("Get() = %+v, want pid %d, hostname %q", in, os.Getpid(), host)
	}
	if in.ContainerID == "" && in.ContainerName != "" {
		t.Errorf("a container name without a container id: %+v", in)
	}
	if in.IP != "" && net.ParseIP(in.IP).To4() == nil {
		t.Errorf("IP %q is not IPv4", in.IP)
	}
	b, err := json.Marshal(in)
	if err != nil || !strings.Contains(string(b), `"container_id":`) || !strings.Contains(string(b), `"ip":`) {
		t.Errorf("JSON: %s, %v", b, err)
	}
	t.Logf("this host: %s", b)
}
