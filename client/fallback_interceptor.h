// Answers calls that an open SERVICE or METHOD circuit breaker refused with
// the fallback of the CIRCUIT_BREAKER rule that opened it (its
// fallbackConfig: code, headers, body).
//
// The polaris policy refuses such calls at once, with the rule's code (see
// README, Circuit breaking). Channels that want the fallback instead install
// this interceptor:
//
//   std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> f;
//   f.push_back(grpc_cpp_polaris::MakeFallbackInterceptorFactory());
//   auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
//       "polaris://Echo", grpc::InsecureChannelCredentials(), args, std::move(f));
//
// A refused call then carries the fallback: its headers are added to the
// call's trailing metadata (ClientContext::GetServerTrailingMetadata, keys
// lowercased) and its body, when there is one, becomes the status message;
// the status code stays the refusal's (the rule's fallback code, mapped as
// the README says). Other calls pass untouched.
//
// Not yet: a fallback *answer* (code 0 or 2xx) delivered as the call's
// response; such calls stay refused with the body as message.
#ifndef GRPC_CPP_POLARIS_CLIENT_FALLBACK_INTERCEPTOR_H_
#define GRPC_CPP_POLARIS_CLIENT_FALLBACK_INTERCEPTOR_H_

#include <memory>

#include <grpcpp/support/client_interceptor.h>


namespace grpc_cpp_polaris {

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
MakeFallbackInterceptorFactory();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_FALLBACK_INTERCEPTOR_H_
