// Package inplacetest runs simulated kubeadm hosts for tests: one real OpenSSH server
// (Debian's openssh-server, /usr/sbin/sshd) per host on a loopback port, with a generated
// host key, authorized_keys and known_hosts. Every command a test host receives runs with
// RECORDING STAND-INS alone on PATH: small shell scripts named apt-get, apt-mark,
// apt-cache, yum, kubeadm, kubectl, systemctl, etcdctl, swapon, tee, cat, mkdir, ss,
// crictl that record their invocation in a shared log instead of doing the real work.
// They are stand-ins because a real kubeadm, kubelet and package manager cannot run here;
// sshd, the SSH protocol, host-key checking and the command lines are real.
//
// It also has Cluster, a recording stand-in for inplace.Cluster, for the tests that check
// the order of host and cluster steps without an apiserver.
//
// Tests skip when sshd is missing unless PHOENIX_REQUIRE_INTEGRATION=1.
package inplacetest
