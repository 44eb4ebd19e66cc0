package client

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// retryable reports whether err is worth another try: the identity
// provider could not be reached (IDPCommunicationError, InvalidIdentityToken
// "Couldn't retrieve verification key"), throttling, a 5xx answer, or a
// network failure. AccessDenied and other client errors are final.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "IDPCommunicationError", "IDPCommunicationErrorException",
			"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
			"ServiceUnavailable", "InternalFailure", "InternalError", "RequestTimeout":
			return true
		case "InvalidIdentityToken", "InvalidIdentityTokenException":
			return strings.Contains(api.ErrorMessage(), "Couldn't retrieve verification key")
		}
	}
	// A request that never got an answer (connection refused, reset, EOF)
	// is checked before the status: the SDK wraps a send failure in a
	// ResponseError whose status is 0.
	var send *smithyhttp.RequestSendError
	var ne net.Error
	if errors.As(err, &send) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		s := re.HTTPStatusCode()
		return s >= 500 || s == 429
	}
	return false
}

// backoff is the full-jitter delay before attempt n+1 (n ≥ 1).
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.BaseDelay
	for i := 1; i < n && d < c.cfg.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, c.cfg.MaxDelay)
	return time.Duration(c.cfg.Rand() * float64(d))
}

// retry runs f until it succeeds, fails for good, or the attempts run out.
func (c *Client) retry(ctx context.Context, f func(ctx context.Context) error) error {
	for n := 1; ; n++ {
		err := f(ctx)
		if err == nil || !retryable(err) {
			return err
		}
		if n >= c.cfg.MaxAttempts {
			return &RetryError{Attempts: n, Err: err}
		}
		d := c.backoff(n)
		if c.cfg.OnRetry != nil {
			c.cfg.OnRetry(n, err, d)
		}
		if serr := c.cfg.Sleep(ctx, d); serr != nil {
			return errors.Join(err, serr)
		}
	}
}

// RetryError is a retryable failure that persisted through every attempt.
type RetryError struct {
	Attempts int
	Err      error
}

func (e *RetryError) Error() string {
	return "gave up after " + strconv.Itoa(e.Attempts) + " attempts: " + e.Err.Error()
}
func (e *RetryError) Unwrap() error { return e.Err }
