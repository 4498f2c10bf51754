// Package hostinfo describes the host a process runs on, for the replica
// registry: host name, internal IPv4, pid, and the container's id and
// name when it runs in one (Docker, containerd, CRI-O, Podman, Kubernetes).
// It reads /proc and the network interfaces; whatever it cannot read is
// left empty, never an error.
package hostinfo

import (
	"net"
	"os"
	"regexp"
	"strings"
)

// Info is what a replica row records of its process's host.
type Info struct {
	Hostname      string `json:"hostname"`
	IP            string `json:"ip"` // first non-loopback IPv4 of an up interface; "" when none
	PID           int    `json:"pid"`
	ContainerID   string `json:"container_id"`   // 64 hex digits; "" when not in a container
	ContainerName string `json:"container_name"` // $HOSTNAME in a container (what Docker and Kubernetes set); "" outside
}

// Get describes the current process's host.
func Get() Info {
	host, _ := os.Hostname()
	in := Info{Hostname: host, IP: internalIP(), PID: os.Getpid()}
	in.ContainerID = containerIDFromCgroup(readFile("/proc/self/cgroup"))
	if in.ContainerID == "" {
		// cgroup v2 with a private cgroup namespace shows "0::/": the
		// mounts still name the container's own files.
		in.ContainerID = containerIDFromMountinfo(readFile("/proc/self/mountinfo"))
	}
	if in.ContainerID != "" {
		in.ContainerName = os.Getenv("HOSTNAME")
	}
	return in
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// cgroupIDRe is a cgroup path element naming a container: its id, 64
// hex digits, alone (/docker/<id>, /kubepods/…/pod<uid>/<id>,
// /ecs/…/<id>) or in a runtime's systemd scope (docker-<id>.scope,
// cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope).
var cgroupIDRe = regexp.MustCompile(`^(?:[a-z][a-z-]*-)?([0-9a-f]{64})(?:\.scope)?$`)

// mountIDRe finds a container id in the source of a bind mount: Docker's
// /var/lib/docker/containers/<id>/hostname and Podman's
// …/overlay-containers/<id>/userdata/hostname.
var mountIDRe = regexp.MustCompile(`containers/([0-9a-f]{64})/`)

// lastCgroupID is the container id of the deepest element of a cgroup
// path that names one, or "".
func lastCgroupID(path string) string {
	elems := strings.Split(path, "/")
	for i := len(elems) - 1; i >= 0; i-- {
		if m := cgroupIDRe.FindStringSubmatch(elems[i]); m != nil {
			return m[1]
		}
	}
	return ""
}

// containerIDFromCgroup reads /proc/self/cgroup ("hierarchy:controllers:path"
// per line) and returns the container id in the first path that has one.
// A host's process, or a container in its own cgroup namespace, has
// none: "".
func containerIDFromCgroup(text string) string {
	for _, line := range strings.Split(text, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if id := lastCgroupID(parts[2]); id != "" {
			return id
		}
	}
	return ""
}

// containerIDFromMountinfo reads /proc/self/mountinfo and returns the
// container id named by the root (4th field) of a mount: a cgroup mount
// rooted in the container's cgroup (cgroup v1), or a bind mount of the
// container's own hostname, hosts or resolv.conf. Mount options are not
// read: an overlay's lowerdir and upperdir name image layers, not the
// container.
func containerIDFromMountinfo(text string) string {
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		root := fields[3]
		_, after, _ := strings.Cut(line, " - ")
		if fstype, _, _ := strings.Cut(after, " "); fstype == "cgroup" || fstype == "cgroup2" {
			if id := lastCgroupID(root); id != "" {
				return id
			}
		}
		if m := mountIDRe.FindStringSubmatch(root); m != nil {
			return m[1]
		}
	}
	return ""
}

// iface is what internalIP reads of a network interface.
type iface struct {
	flags net.Flags
	addrs []net.Addr
}

func internalIP() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	list := make([]iface, 0, len(ifs))
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		list = append(list, iface{flags: i.Flags, addrs: addrs})
	}
	return firstIPv4(list)
}

// firstIPv4 is the first IPv4 address of an up interface that is not a
// loopback, nor link-local (169.254/16: no route beyond the link), in
// the order given (the system's, by interface index).
func firstIPv4(ifs []iface) string {
	for _, i := range ifs {
		if i.flags&net.FlagUp == 0 || i.flags&net.FlagLoopback != 0 {
			continue
		}
		for _, a := range i.addrs {
			var ip net.IP
			switch v := a.(type) {
			case *net.IPNet:
				ip = v.IP
			case *net.IPAddr:
				ip = v.IP
			}
			if ip4 := ip.To4(); ip4 != nil && !ip4.IsLoopback() && !ip4.IsLinkLocalUnicast() {
				return ip4.String()
			}
		}
	}
	return ""
}
