package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// Moto is a moto_server child process on a loopback port.
type Moto struct {
	URL     string
	RoleARN string
	cmd     *exec.Cmd
	done    chan struct{}
}

// motoStartCeiling bounds the wait for moto_server to answer. Python starts
// slowly on a loaded machine (over 30 s was seen with both cores busy), and
// the wait ends as soon as moto answers or exits, so only a hung moto_server
// ever waits this long.
const motoStartCeiling = 3 * time.Minute

// StartMoto starts path (moto_server) on a free loopback port and waits
// until it answers.
func StartMoto(ctx context.Context, path string) (*Moto, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	m := &Moto{URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(m.done) }()
	deadline := time.Now().Add(motoStartCeiling)
	for {
		resp, err := http.Get(m.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return m, nil
		}
		select {
		case <-m.done:
			return nil, errors.New("moto_server exited before answering")
		case <-ctx.Done():
			m.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.Close()
			return nil, fmt.Errorf("moto_server did not answer within %s", motoStartCeiling)
		}
	}
}

// PID is the moto_server process id.
func (m *Moto) PID() int { return m.cmd.Process.Pid }

// Close stops moto_server (this process's own child, by its pid).
func (m *Moto) Close() {
	_ = m.cmd.Process.Kill()
	<-m.done
}

// Setup registers org's issuer URL as a provider and creates a role with
// the same trust policy as on keyless, through moto's IAM API.
func (m *Moto) Setup(ctx context.Context, hc *http.Client, org Org) error {
	cr := aws.Credentials{AccessKeyID: "AKIAMOTOBENCH0000001", SecretAccessKey: "motoBenchSecretKey000000000000000000000"}
	ic := iamClient(m.URL, cr, hc)
	pout, err := ic.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(org.IssuerURL), ClientIDList: []string{org.ID}, ThumbprintList: []string{dummyThumbprint}})
	if err != nil {
		return fmt.Errorf("moto: create provider: %w", err)
	}
	host := org.IssuerURL[len("https://"):]
	rout, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(org.RoleName),
		AssumeRolePolicyDocument: aws.String(seedTrust(aws.ToString(pout.OpenIDConnectProviderArn), host, org.ID, org.Project))})
	if err != nil {
		return fmt.Errorf("moto: create role: %w", err)
	}
	m.RoleARN = aws.ToString(rout.Role.Arn)
	return nil
}
